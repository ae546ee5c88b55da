using System;
using System.Runtime.CompilerServices;

namespace ModelGen;

/// <summary>
/// The eager-mode state of one model (or of one stand-alone layer): whether its layers train, as PyTorch's
/// <c>module.train()</c>/<c>module.eval()</c>, and the (seed, step) its dropout masks are drawn from. Layers bound
/// to a model share the model's mode (see <see cref="ModelBase.Train"/> and <see cref="ModelBase.Eval"/>); a
/// stand-alone layer has a mode of its own. It affects only the eager path: the compiled program trains in
/// <c>TrainStep</c> (batch statistics, dropout) and infers in <c>Infer</c> (running statistics, no dropout).
/// </summary>
public sealed class ExecutionMode
{
    static readonly ConditionalWeakTable<ParameterStore, ExecutionMode> ByStore = new();

    /// <summary>Whether layers run in training mode (dropout drops; batch normalization uses and updates batch statistics). Initially true.</summary>
    public bool Training { get; set; } = true;

    /// <summary>The seed eager dropout draws from (the compiled program's <see cref="CompiledProgram.Seed"/>).</summary>
    public ulong Seed { get; set; }

    /// <summary>
    /// The step eager dropout draws from: masks are those of the compiled program's training step number
    /// <see cref="Step"/> (1 for its first <c>TrainStep</c>, the default). Eager forward passes do not advance it:
    /// increment it yourself for a fresh mask.
    /// </summary>
    public long Step { get; set; } = 1;

    /// <summary>The mode shared by every layer bound to <paramref name="store"/> (one per model).</summary>
    public static ExecutionMode Of(ParameterStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return ByStore.GetValue(store, static _ => new ExecutionMode());
    }
}
