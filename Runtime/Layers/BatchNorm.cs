using System;

namespace ModelGen;

/// <summary>
/// Batch normalization over the features of (B, F) inputs (PyTorch's BatchNorm1d without the length dimension):
/// in training, y = (x − mean)/sqrt(var + eps)·weight + bias with the batch's mean and biased variance, and the
/// running statistics move toward the batch's (unbiased variance) by <c>momentum</c>; in inference the running
/// statistics replace the batch's. Parameters: <c>weight</c> (ones) and <c>bias</c> (zeros), trained; state
/// <c>running_mean</c> (zeros) and <c>running_var</c> (ones), saved in checkpoints but not trained.
/// </summary>
public sealed class BatchNorm1d : BatchNormBase
{
    /// <summary>A layer over <paramref name="features"/> features.</summary>
    public BatchNorm1d(int features, double epsilon = 1e-5, double momentum = 0.1) : base("BatchNorm1d", features, epsilon, momentum, rank: 2) { }

    /// <summary>Normalizes (B, F) eagerly in the current mode (training also updates the running statistics).</summary>
    public Tensor Forward(Tensor x) => Normalize(x);
}

/// <summary>
/// Batch normalization over the channels of (B, C, H, W) inputs: statistics per channel over the batch and the
/// positions. Otherwise as <see cref="BatchNorm1d"/>.
/// </summary>
public sealed class BatchNorm2d : BatchNormBase
{
    /// <summary>A layer over <paramref name="channels"/> channels.</summary>
    public BatchNorm2d(int channels, double epsilon = 1e-5, double momentum = 0.1) : base("BatchNorm2d", channels, epsilon, momentum, rank: 4) { }

    /// <summary>Normalizes (B, C, H, W) eagerly in the current mode (training also updates the running statistics).</summary>
    public Tensor Forward(Tensor x) => Normalize(x);
}

/// <summary>What <see cref="BatchNorm1d"/> and <see cref="BatchNorm2d"/> share.</summary>
public abstract class BatchNormBase : IModule
{
    readonly string _name;
    readonly int _rank;
    ExecutionMode _mode = new();

    private protected BatchNormBase(string name, int channels, double epsilon, double momentum, int rank)
    {
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), channels, $"{name}: the number of channels must be positive.");
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"{name}: epsilon must be positive.");
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"{name}: momentum must be in [0, 1].");
        _name = name;
        _rank = rank;
        Channels = channels;
        Epsilon = epsilon;
        Momentum = momentum;
        Weight = new Tensor(channels) { RequiresGrad = true };
        Weight.Data.Fill(1f);
        Bias = new Tensor(channels) { RequiresGrad = true };
        RunningMean = new Tensor(channels);
        RunningVar = new Tensor(channels);
        RunningVar.Data.Fill(1f);
    }

    /// <summary>Features (channels) normalized.</summary>
    public int Channels { get; }

    /// <summary>Added to the variance.</summary>
    public double Epsilon { get; }

    /// <summary>The weight of a batch's statistics in the running update.</summary>
    public double Momentum { get; }

    /// <summary>The scale, shape (C).</summary>
    public Tensor Weight { get; private set; }

    /// <summary>The shift, shape (C).</summary>
    public Tensor Bias { get; private set; }

    /// <summary>The running mean, shape (C) (state, not trained).</summary>
    public Tensor RunningMean { get; private set; }

    /// <summary>The running variance, shape (C) (state, not trained).</summary>
    public Tensor RunningVar { get; private set; }

    /// <summary>The mode this layer follows: its own when stand-alone, the model's once bound.</summary>
    public ExecutionMode Mode => _mode;

    /// <summary>Normalizes <paramref name="x"/> eagerly in the current mode (training updates the running statistics).</summary>
    private protected Tensor Normalize(Tensor x) =>
        Ops.BatchNorm(_name, x, Weight, Bias, RunningMean, RunningVar, Channels, _rank, Epsilon, Momentum, _mode.Training);

    /// <summary>Points the four tensors at <c>{prefix}.weight</c>, <c>.bias</c>, <c>.running_mean</c>, <c>.running_var</c> and follows the model's mode.</summary>
    public void Bind(ParameterStore store, string prefix)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prefix);
        Tensor Get(string name)
        {
            var t = store[prefix + "." + name].Value;
            if (t.Rank != 1 || t.Dim(0) != Channels)
                throw new ArgumentException($"{_name}: parameter '{prefix}.{name}' has shape {Tensor.FormatShape(t.Shape)} but the layer needs ({Channels}).");
            return t;
        }
        (Weight, Bias, RunningMean, RunningVar) = (Get("weight"), Get("bias"), Get("running_mean"), Get("running_var"));
        _mode = ExecutionMode.Of(store);
    }
}
