using System;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ModelGen;

/// <summary>
/// The console progress of <c>Fit</c>: a live line rewritten with <c>\r</c> at most ten times a second (only when the
/// console is not redirected), then one summary line per epoch.
/// </summary>
sealed class Progress
{
    static readonly long MinInterval = Stopwatch.Frequency / 10;
    readonly bool _live = !Console.IsOutputRedirected;
    long _lastPrint;
    int _lastLength;

    public void Batch(int epoch, int epochs, int batch, int batches, double runningLoss, double samplesPerSecond)
    {
        if (!_live) return;
        long now = Stopwatch.GetTimestamp();
        if (now - _lastPrint < MinInterval && batch != batches) return;
        _lastPrint = now;
        Write(string.Create(CultureInfo.InvariantCulture,
            $"epoch {epoch}/{epochs}  batch {batch}/{batches}  loss {runningLoss:F4}  {samplesPerSecond:N0} samples/s"), newLine: false);
    }

    public void Epoch(EpochResult result) => Write(EpochLine(result), newLine: true);

    void Write(string line, bool newLine)
    {
        var text = new StringBuilder();
        if (_live) text.Append('\r');
        text.Append(line);
        if (_live && line.Length < _lastLength) text.Append(' ', _lastLength - line.Length);
        _lastLength = newLine ? 0 : line.Length;
        if (newLine) text.Append(Environment.NewLine);
        Console.Out.Write(text.ToString());
        Console.Out.Flush();
    }

    /// <summary><c>epoch 1/5  loss 0.5123  acc 0.8150  val_loss 0.4500  val_acc 0.8380  41,230 samples/s  1.5 s</c></summary>
    public static string EpochLine(EpochResult r)
    {
        var s = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        s.Append(c, $"epoch {r.Epoch}/{r.Epochs}  loss {r.TrainLoss:F4}");
        if (r.TrainAccuracy is double acc) s.Append(c, $"  acc {acc:F4}");
        if (r.ValidationLoss is double vl) s.Append(c, $"  val_loss {vl:F4}");
        if (r.ValidationAccuracy is double va) s.Append(c, $"  val_acc {va:F4}");
        s.Append(c, $"  {r.SamplesPerSecond:N0} samples/s  {r.Elapsed.TotalSeconds:F1} s");
        if (r.SamplesLeftOut > 0)
            s.Append(c, $"  ({r.SamplesLeftOut} sample{(r.SamplesLeftOut == 1 ? "" : "s")} left out: batch normalization cannot train on a last batch of {r.SamplesLeftOut})");
        return s.ToString();
    }
}
