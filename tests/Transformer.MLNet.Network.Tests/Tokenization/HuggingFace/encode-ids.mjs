// Token ids of many texts from Hugging Face's own tokenizer implementation (@huggingface/tokenizers), in one process.
// Usage: node encode-ids.mjs <folder holding node_modules> <tokenizer.json> <input> <output>
// Input: one JSON string per line. Output: one JSON array of ids per line, in the same order, with [CLS] and [SEP].
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [packageFolder, tokenizerPath, inputPath, outputPath] = process.argv.slice(2);
if (!outputPath) {
  console.error('usage: node encode-ids.mjs <folder holding node_modules> <tokenizer.json> <input> <output>');
  process.exit(2);
}

const require = createRequire(join(packageFolder, 'package.json'));
const { Tokenizer } = require('@huggingface/tokenizers');
const tokenizer = new Tokenizer(JSON.parse(readFileSync(tokenizerPath, 'utf8')), {});
const texts = readFileSync(inputPath, 'utf8').split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line));
const lines = texts.map((text) => JSON.stringify(tokenizer.encode(text).ids));
writeFileSync(outputPath, lines.join('\n') + '\n');
