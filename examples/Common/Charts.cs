using ScottPlot;

namespace Transformer.MLNet.Examples.Common;

/// <summary>One named line of a line chart.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>PNG charts for examples, benchmarks and notebooks.</summary>
public static class Charts
{
    /// <summary>Training and validation curves, or any x-y lines.</summary>
    public static string SaveLines(string path, string title, string xLabel, string yLabel, params Series[] series)
    {
        var plot = new Plot();
        foreach (var s in series)
        {
            // Sparse series (e.g. one validation per epoch) get markers so that two points still show.
            var line = s.X.Count < 20 ? plot.Add.Scatter(s.X.ToArray(), s.Y.ToArray()) : plot.Add.ScatterLine(s.X.ToArray(), s.Y.ToArray());
            if (s.X.Count < 20)
                line.MarkerSize = 7;
            line.LegendText = s.Name;
        }

        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        // Loss curves fall from the upper left, so the upper right is the corner they leave free.
        plot.ShowLegend(Alignment.UpperRight);
        return Save(plot, path, 720, 440);
    }

    /// <summary>Points without lines, e.g. a model's scores against human ratings.</summary>
    public static string SaveScatter(string path, string title, string xLabel, string yLabel, IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var plot = new Plot();
        var points = plot.Add.ScatterPoints(x.ToArray(), y.ToArray());
        points.MarkerSize = 3;
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        return Save(plot, path, 640, 480);
    }

    /// <summary>A heatmap with labelled rows (top to bottom) and columns (left to right), e.g. attention weights.</summary>
    public static string SaveHeatmap(string path, string title, double[,] values, IReadOnlyList<string> columnLabels, IReadOnlyList<string> rowLabels)
    {
        int rows = values.GetLength(0);
        int columns = values.GetLength(1);
        if (rowLabels.Count != rows || columnLabels.Count != columns)
            throw new ArgumentException($"Heatmap is {rows}x{columns} but got {rowLabels.Count} row and {columnLabels.Count} column labels.");

        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heatmap);
        // ScottPlot draws row 0 at the top, centred on y = rows - 1.
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, columns).Select(c => (double)c).ToArray(), columnLabels.ToArray());
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(r => (double)(rows - 1 - r)).ToArray(), rowLabels.ToArray());
        bool rotate = columns > 10 || columnLabels.Any(l => l.Length > 8);
        plot.Axes.Bottom.TickLabelStyle.Rotation = rotate ? 45 : 0;
        plot.Axes.Bottom.TickLabelStyle.Alignment = rotate ? Alignment.MiddleLeft : Alignment.UpperCenter;
        if (rotate)
            plot.Axes.Bottom.MinimumSize = 4 * columnLabels.Max(l => l.Length) + 20;   // room for the slanted labels
        plot.Title(title);
        int cell = Math.Clamp(480 / Math.Max(rows, columns), 24, 60);
        int rowLabelWidth = 7 * rowLabels.Max(l => l.Length), slantedLabels = rotate ? 5 * columnLabels.Max(l => l.Length) : 0;
        return Save(plot, path, 160 + rowLabelWidth + cell * columns + slantedLabels, 160 + cell * rows + slantedLabels);
    }

    /// <summary>Bars, one per label, with an optional horizontal reference line (e.g. a target ratio).</summary>
    public static string SaveBars(string path, string title, string yLabel, IReadOnlyList<string> labels, IReadOnlyList<double> values, double? reference = null)
    {
        var plot = new Plot();
        plot.Add.Bars(values.ToArray());
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, labels.Count).Select(i => (double)i).ToArray(), labels.ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 5 * labels.Max(l => l.Length) + 20;   // room for the rotated labels
        if (reference is { } r)
            plot.Add.HorizontalLine(r, width: 1, pattern: LinePattern.Dashed);
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel(yLabel);
        return Save(plot, path, Math.Max(160 + 110 * labels.Count + 6 * labels.Max(l => l.Length), 10 * title.Length), 460);
    }

    /// <summary>
    /// Where examples write their pictures: <c>TRANSFORMER_MLNET_PICTURES</c> if set, otherwise
    /// <c>artifacts/pictures</c> under the repository root (found from the running program's folder), otherwise
    /// <c>pictures</c> under the current directory.
    /// </summary>
    /// <param name="file">File name inside the folder.</param>
    /// <returns>The full path; the folder exists.</returns>
    public static string PicturePath(string file)
    {
        string? folder = Environment.GetEnvironmentVariable("TRANSFORMER_MLNET_PICTURES");
        if (string.IsNullOrEmpty(folder))
        {
            folder = Data.DataDirectory.RepositoryRoot is { } root ? Path.Combine(root, "artifacts", "pictures") : Path.GetFullPath("pictures");
        }

        Directory.CreateDirectory(folder);
        return Path.Combine(folder, file);
    }

    /// <summary>An HTML &lt;img&gt; holding the PNG inline, for notebooks' <c>display(HTML(...))</c>.</summary>
    public static string HtmlImage(string path) =>
        $"<img src=\"data:image/png;base64,{Convert.ToBase64String(File.ReadAllBytes(path))}\" alt=\"{Path.GetFileName(path)}\"/>";

    private static string Save(Plot plot, string path, int width, int height)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder)
            Directory.CreateDirectory(folder);
        plot.SavePng(path, width, height);
        return path;
    }
}
