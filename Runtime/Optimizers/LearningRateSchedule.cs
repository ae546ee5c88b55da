using System;

namespace ModelGen;

/// <summary>A factor on an optimizer's learning rate as a function of the step (0, 1, 2, ...).</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The factor for step <paramref name="step"/>, counting from 0.</summary>
    public abstract float Factor(int step);

    /// <summary>The schedule and its settings as text, compared when a checkpoint's optimizer state is loaded.</summary>
    internal virtual string Describe() => GetType().FullName ?? GetType().Name;

    /// <summary>A float as invariant round-trip text.</summary>
    internal static string F(float value) => Optimizer.Format(value);
}

/// <summary>
/// Cosine annealing over a fixed number of steps (as PyTorch's CosineAnnealingLR without restarts): the factor
/// falls from 1 at step 0 to <see cref="MinFactor"/> at step <see cref="TotalSteps"/> along half a cosine, and
/// stays there after. Optionally starts with a linear warm-up from 0.
/// </summary>
public sealed class CosineDecay : LearningRateSchedule
{
    /// <summary>Anneals over <paramref name="totalSteps"/> steps, the first <paramref name="warmupSteps"/> of them a linear warm-up.</summary>
    public CosineDecay(int totalSteps, double minFactor = 0, int warmupSteps = 0)
    {
        float min = Optimizer.ToFloat(minFactor);
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), $"A schedule spans at least one step, not {totalSteps}.");
        if (!(min >= 0 && min <= 1)) throw new ArgumentOutOfRangeException(nameof(minFactor), $"The final factor must be in [0, 1], not {minFactor}.");
        if (warmupSteps < 0 || warmupSteps >= totalSteps)
            throw new ArgumentOutOfRangeException(nameof(warmupSteps), $"Warm-up takes 0 to {totalSteps - 1} steps, not {warmupSteps}.");
        TotalSteps = totalSteps;
        _minFactor = min;
        WarmupSteps = warmupSteps;
    }

    /// <summary>The number of steps over which the factor falls.</summary>
    public int TotalSteps { get; }

    readonly float _minFactor;

    /// <summary>The factor at and after <see cref="TotalSteps"/> (kept as a float).</summary>
    public double MinFactor => _minFactor;

    /// <summary>The number of warm-up steps at the start.</summary>
    public int WarmupSteps { get; }

    /// <summary>The steps of <paramref name="epochs"/> epochs over <paramref name="samples"/> samples in batches of <paramref name="batchSize"/> (the last batch may be partial).</summary>
    public static int StepsFor(int samples, int batchSize, int epochs) => checked((samples + batchSize - 1) / batchSize * epochs);

    /// <inheritdoc/>
    internal override string Describe() => $"CosineDecay(totalSteps={TotalSteps}, minFactor={F(_minFactor)}, warmupSteps={WarmupSteps})";

    /// <inheritdoc/>
    public override float Factor(int step)
    {
        if (step < WarmupSteps) return (step + 1f) / WarmupSteps;
        if (step >= TotalSteps) return _minFactor;
        double progress = (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        return (float)(_minFactor + (1 - _minFactor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}

/// <summary>
/// Multiplies the factor by <see cref="Gamma"/> every <see cref="StepSize"/> steps (PyTorch's StepLR, counted in
/// optimizer steps): <c>Factor(t) = γ^floor(t / stepSize)</c>.
/// </summary>
public sealed class StepDecay : LearningRateSchedule
{
    /// <summary>Decays by <paramref name="gamma"/> every <paramref name="stepSize"/> steps.</summary>
    public StepDecay(int stepSize, double gamma = 0.1)
    {
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), $"The step size must be at least 1, not {stepSize}.");
        _gamma = Schedules.CheckGamma(gamma);
        StepSize = stepSize;
    }

    readonly float _gamma;

    /// <summary>The number of steps between decays.</summary>
    public int StepSize { get; }

    /// <summary>The multiplicative decay (kept as a float).</summary>
    public double Gamma => _gamma;

    /// <inheritdoc/>
    internal override string Describe() => $"StepDecay(stepSize={StepSize}, gamma={F(_gamma)})";

    /// <inheritdoc/>
    public override float Factor(int step) => Schedules.Power(_gamma, Math.Max(step, 0) / StepSize);
}

/// <summary>Multiplies the factor by <see cref="Gamma"/> every step (PyTorch's ExponentialLR): <c>Factor(t) = γ^t</c>.</summary>
public sealed class ExponentialDecay : LearningRateSchedule
{
    /// <summary>Decays by <paramref name="gamma"/> every step.</summary>
    public ExponentialDecay(double gamma) => _gamma = Schedules.CheckGamma(gamma);

    readonly float _gamma;

    /// <summary>The multiplicative decay per step (kept as a float).</summary>
    public double Gamma => _gamma;

    /// <inheritdoc/>
    internal override string Describe() => $"ExponentialDecay(gamma={F(_gamma)})";

    /// <inheritdoc/>
    public override float Factor(int step) => Schedules.Power(_gamma, Math.Max(step, 0));
}

/// <summary>
/// Multiplies the factor by <see cref="Gamma"/> at each milestone (PyTorch's MultiStepLR, counted in optimizer steps):
/// <c>Factor(t) = γ^(number of milestones ≤ t)</c>. A milestone listed twice decays twice, as in PyTorch.
/// </summary>
public sealed class MultiStepDecay : LearningRateSchedule
{
    readonly int[] _milestones;

    /// <summary>Decays by <paramref name="gamma"/> at each of <paramref name="milestones"/> (steps, any order).</summary>
    public MultiStepDecay(int[] milestones, double gamma = 0.1)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        foreach (int m in milestones)
            if (m < 0) throw new ArgumentOutOfRangeException(nameof(milestones), $"Milestones are steps, at least 0, not {m}.");
        float g = Schedules.CheckGamma(gamma);
        _milestones = (int[])milestones.Clone();
        Array.Sort(_milestones);
        _gamma = g;
    }

    readonly float _gamma;

    /// <summary>The milestones, sorted.</summary>
    public ReadOnlySpan<int> Milestones => _milestones;

    /// <summary>The multiplicative decay at each milestone (kept as a float).</summary>
    public double Gamma => _gamma;

    /// <inheritdoc/>
    internal override string Describe() => $"MultiStepDecay(milestones=[{string.Join(",", _milestones)}], gamma={F(_gamma)})";

    /// <inheritdoc/>
    public override float Factor(int step)
    {
        // bisect_right: the number of milestones <= step.
        int lo = 0, hi = _milestones.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_milestones[mid] <= step) lo = mid + 1;
            else hi = mid;
        }
        return Schedules.Power(_gamma, lo);
    }
}

/// <summary>
/// A linear warm-up: over the first <see cref="WarmupSteps"/> steps the factor rises linearly from
/// <c>1/warmupSteps</c> (step 0) to 1 (step <c>warmupSteps - 1</c>); after that it is <see cref="Then"/>'s factor with
/// the step shifted, <c>Then.Factor(t - warmupSteps)</c>, or 1 when there is none. So
/// <c>new LinearWarmup(100, new CosineDecay(900))</c> warms up for 100 steps and anneals over the next 900.
/// </summary>
public sealed class LinearWarmup : LearningRateSchedule
{
    /// <summary>Warms up over <paramref name="warmupSteps"/> steps, then follows <paramref name="then"/> (constant 1 when null).</summary>
    public LinearWarmup(int warmupSteps, LearningRateSchedule? then = null)
    {
        if (warmupSteps < 1) throw new ArgumentOutOfRangeException(nameof(warmupSteps), $"Warm-up takes at least 1 step, not {warmupSteps}.");
        WarmupSteps = warmupSteps;
        Then = then;
    }

    /// <summary>The number of warm-up steps.</summary>
    public int WarmupSteps { get; }

    /// <summary>The schedule after the warm-up (its step 0 is step <see cref="WarmupSteps"/>), or null for a constant 1.</summary>
    public LearningRateSchedule? Then { get; }

    /// <inheritdoc/>
    internal override string Describe() => $"LinearWarmup(warmupSteps={WarmupSteps}, then={Then?.Describe() ?? "none"})";

    /// <inheritdoc/>
    public override float Factor(int step)
    {
        if (step < WarmupSteps) return (Math.Max(step, 0) + 1f) / WarmupSteps;
        return Then == null ? 1f : Then.Factor(step - WarmupSteps);
    }
}

static class Schedules
{
    /// <summary>Rounds <paramref name="gamma"/> to the float the schedule keeps and checks it.</summary>
    internal static float CheckGamma(double gamma)
    {
        float g = Optimizer.ToFloat(gamma);
        // As in PyTorch, a factor above 1 (growth) is allowed.
        if (!(g > 0) || float.IsInfinity(g))
            throw new ArgumentOutOfRangeException(nameof(gamma), $"The decay factor must be positive and finite, not {gamma}.");
        return g;
    }

    internal static float Power(float gamma, int exponent) => (float)Math.Pow(gamma, exponent);
}
