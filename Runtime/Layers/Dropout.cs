using System;

namespace ModelGen;

/// <summary>
/// Inverted dropout: in training each element is zeroed with probability <see cref="P"/> and the rest are scaled
/// by 1/(1 − p); in inference it is the identity. The mask is a counter-based hash of (seed, layer, step, element
/// index) (<see cref="DropoutRandom"/>), so it is reproducible and independent of the thread count: the compiled
/// program draws from (<see cref="CompiledProgram.Seed"/>, <see cref="CompiledProgram.Steps"/>), the eager layer from
/// its <see cref="ExecutionMode"/>'s (Seed, Step), which gives the same mask for the same values.
/// </summary>
public sealed class Dropout : IModule
{
    ExecutionMode _mode = new();

    /// <summary>A layer that drops with probability <paramref name="p"/> in [0, 1].</summary>
    public Dropout(double p)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: p must be in [0, 1].");
        P = p;
    }

    /// <summary>The drop probability.</summary>
    public double P { get; }

    /// <summary>The layer's salt: a hash of its path in the model ("" stand-alone), so that two layers draw different masks.</summary>
    public ulong Salt { get; private set; } = DropoutRandom.Salt("");

    /// <summary>The mode this layer follows: its own when stand-alone, the model's once bound.</summary>
    public ExecutionMode Mode => _mode;

    /// <summary>Drops eagerly in training mode; returns <paramref name="x"/> itself otherwise.</summary>
    public Tensor Forward(Tensor x) => Ops.Dropout(x, P, _mode.Training, _mode.Seed, Salt, _mode.Step);

    /// <summary>Has no parameters: takes the model's mode and the salt of its path <paramref name="prefix"/>.</summary>
    public void Bind(ParameterStore store, string prefix)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prefix);
        _mode = ExecutionMode.Of(store);
        Salt = DropoutRandom.Salt(prefix);
    }
}
