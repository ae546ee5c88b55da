using System;
using System.Globalization;

namespace ModelGen;

/// <summary>
/// A hook into <c>Fit</c>. <c>Fit</c> sets <see cref="Model"/> and clears <see cref="StopTraining"/> before
/// <see cref="OnTrainBegin"/>, calls <see cref="OnEpochEnd"/> after each epoch (validation done), stops after an epoch
/// when any callback set <see cref="StopTraining"/>, and calls <see cref="OnTrainEnd"/> last.
/// </summary>
public abstract class Callback
{
    /// <summary>The model being trained (set by <c>Fit</c>).</summary>
    public ModelBase? Model { get; internal set; }

    /// <summary>The optimizer of the run (set by <c>Fit</c>).</summary>
    public Optimizer? Optimizer { get; internal set; }

    /// <summary>Set to end training after the current epoch.</summary>
    public bool StopTraining { get; set; }

    /// <summary>Called once before the first epoch.</summary>
    public virtual void OnTrainBegin() { }

    /// <summary>Called after every epoch with its result.</summary>
    public virtual void OnEpochEnd(EpochResult result) { }

    /// <summary>Called once after the last epoch.</summary>
    public virtual void OnTrainEnd(History history) { }

    /// <summary>The model, or an error when the callback is used outside <c>Fit</c>.</summary>
    protected ModelBase RequireModel() =>
        Model ?? throw new InvalidOperationException($"{GetType().Name} is used outside Fit: no model is set.");
}

/// <summary>The quantities a callback can watch.</summary>
public enum Metric
{
    /// <summary>The validation loss (lower is better).</summary>
    ValidationLoss,
    /// <summary>The validation accuracy (higher is better).</summary>
    ValidationAccuracy,
    /// <summary>The training loss (lower is better).</summary>
    TrainLoss,
    /// <summary>The training accuracy (higher is better).</summary>
    TrainAccuracy,
}

static class MonitorValues
{
    public static bool HigherIsBetter(Metric m) => m is Metric.ValidationAccuracy or Metric.TrainAccuracy;

    public static double Read(Metric m, EpochResult r, string who)
    {
        double? v = m switch
        {
            Metric.ValidationLoss => r.ValidationLoss,
            Metric.ValidationAccuracy => r.ValidationAccuracy,
            Metric.TrainLoss => r.TrainLoss,
            _ => r.TrainAccuracy,
        };
        return v ?? throw new InvalidOperationException(m is Metric.ValidationLoss or Metric.ValidationAccuracy
            ? $"{who} monitors {m} but Fit was given no validation set."
            : $"{who} monitors {m} but the model is not a classifier.");
    }

    public static bool Improves(Metric m, double value, double best, double minDelta) =>
        double.IsNaN(best) || (HigherIsBetter(m) ? value > best + minDelta : value < best - minDelta);
}

/// <summary>
/// Stops training when the monitored quantity (by default the validation loss) has not improved by more than
/// <see cref="MinDelta"/> for <see cref="Patience"/> epochs, and optionally puts back the best epoch's parameters.
/// </summary>
public sealed class EarlyStopping : Callback
{
    float[]? _best;
    int _wait;

    /// <summary>Creates the callback.</summary>
    /// <param name="patience">Epochs without improvement to tolerate before stopping (at least 0).</param>
    /// <param name="restoreBest">Whether to restore the best epoch's parameters when training ends.</param>
    /// <param name="minDelta">The least change that counts as an improvement.</param>
    /// <param name="monitor">What to watch.</param>
    public EarlyStopping(int patience = 3, bool restoreBest = true, double minDelta = 0, Metric monitor = Metric.ValidationLoss)
    {
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), "Patience is at least 0 epochs.");
        if (!(minDelta >= 0)) throw new ArgumentOutOfRangeException(nameof(minDelta), "minDelta is at least 0.");
        Patience = patience;
        RestoreBest = restoreBest;
        MinDelta = minDelta;
        Monitor = monitor;
    }

    /// <summary>Epochs without improvement tolerated.</summary>
    public int Patience { get; }

    /// <summary>Whether the best parameters are restored at the end.</summary>
    public bool RestoreBest { get; }

    /// <summary>The least change that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>What is watched.</summary>
    public Metric Monitor { get; }

    /// <summary>The epoch (from 1) with the best value so far, or 0.</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The best value so far (NaN before the first epoch).</summary>
    public double BestValue { get; private set; } = double.NaN;

    /// <summary>The epoch after which training was stopped, or 0 when it ran to the end.</summary>
    public int StoppedEpoch { get; private set; }

    /// <inheritdoc/>
    public override void OnTrainBegin()
    {
        _wait = 0;
        BestEpoch = 0;
        BestValue = double.NaN;
        StoppedEpoch = 0;
        if (RestoreBest) _best = new float[RequireModel().Parameters.TotalLength];
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(EpochResult result)
    {
        double value = MonitorValues.Read(Monitor, result, nameof(EarlyStopping));
        if (MonitorValues.Improves(Monitor, value, BestValue, MinDelta))
        {
            BestValue = value;
            BestEpoch = result.Epoch;
            _wait = 0;
            if (_best != null) RequireModel().Parameters.Values.CopyTo(_best);
            return;
        }
        if (++_wait > Patience)
        {
            StopTraining = true;
            StoppedEpoch = result.Epoch;
        }
    }

    /// <inheritdoc/>
    public override void OnTrainEnd(History history)
    {
        if (_best != null && BestEpoch > 0 && BestEpoch != history.Count)
            _best.AsSpan().CopyTo(RequireModel().Parameters.Values);
    }
}

/// <summary>
/// Saves the model (safetensors, atomically) after every epoch, or only when the monitored quantity improved.
/// A <c>{epoch}</c> in the path is replaced with the epoch number. By default the checkpoint is resumable: it holds
/// the optimizer's state too (<see cref="ModelBase.Save(string, Optimizer)"/>), so <c>model.Load(path, optimizer)</c>
/// then <c>Fit(..., initialEpoch: LastSavedEpoch)</c> continues the run exactly.
/// </summary>
public sealed class ModelCheckpoint : Callback
{
    /// <summary>Creates the callback.</summary>
    /// <param name="path">The file to write; may contain <c>{epoch}</c>.</param>
    /// <param name="saveBestOnly">Whether to save only when the monitored quantity improved.</param>
    /// <param name="monitor">What to watch when <paramref name="saveBestOnly"/>.</param>
    /// <param name="saveOptimizer">Whether to save the optimizer's state with the parameters (a resumable checkpoint).</param>
    public ModelCheckpoint(string path, bool saveBestOnly = false, Metric monitor = Metric.ValidationLoss, bool saveOptimizer = true)
    {
        SaveOptimizer = saveOptimizer;
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        SaveBestOnly = saveBestOnly;
        Monitor = monitor;
    }

    /// <summary>The path pattern.</summary>
    public string Path { get; }

    /// <summary>Whether only improvements are saved.</summary>
    public bool SaveBestOnly { get; }

    /// <summary>What is watched.</summary>
    public Metric Monitor { get; }

    /// <summary>Whether the optimizer's state is saved too (when <c>Fit</c> has an optimizer, which it always does).</summary>
    public bool SaveOptimizer { get; }

    /// <summary>The best value so far (NaN before the first epoch).</summary>
    public double BestValue { get; private set; } = double.NaN;

    /// <summary>The file written last, or null.</summary>
    public string? LastSavedPath { get; private set; }

    /// <summary>The epoch (from 1) saved last, or 0.</summary>
    public int LastSavedEpoch { get; private set; }

    /// <inheritdoc/>
    public override void OnTrainBegin()
    {
        BestValue = double.NaN;
        LastSavedPath = null;
        LastSavedEpoch = 0;
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(EpochResult result)
    {
        if (SaveBestOnly)
        {
            double value = MonitorValues.Read(Monitor, result, nameof(ModelCheckpoint));
            if (!MonitorValues.Improves(Monitor, value, BestValue, 0)) return;
            BestValue = value;
        }
        string file = Path.Replace("{epoch}", result.Epoch.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        if (SaveOptimizer && Optimizer != null) RequireModel().Save(file, Optimizer);
        else RequireModel().Save(file);
        LastSavedPath = file;
        LastSavedEpoch = result.Epoch;
    }
}
