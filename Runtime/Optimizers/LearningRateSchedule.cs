using System;

namespace ModelGen;

/// <summary>A factor on an optimizer's learning rate as a function of the step (0, 1, 2, ...).</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The factor for step <paramref name="step"/>, counting from 0.</summary>
    public abstract float Factor(int step);
}

/// <summary>
/// Cosine annealing over a fixed number of steps (as PyTorch's CosineAnnealingLR without restarts): the factor
/// falls from 1 at step 0 to <see cref="MinFactor"/> at step <see cref="TotalSteps"/> along half a cosine, and
/// stays there after. Optionally starts with a linear warm-up from 0.
/// </summary>
public sealed class CosineDecay : LearningRateSchedule
{
    /// <summary>Anneals over <paramref name="totalSteps"/> steps, the first <paramref name="warmupSteps"/> of them a linear warm-up.</summary>
    public CosineDecay(int totalSteps, float minFactor = 0f, int warmupSteps = 0)
    {
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), $"A schedule spans at least one step, not {totalSteps}.");
        if (!(minFactor >= 0 && minFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(minFactor), $"The final factor must be in [0, 1], not {minFactor}.");
        if (warmupSteps < 0 || warmupSteps >= totalSteps)
            throw new ArgumentOutOfRangeException(nameof(warmupSteps), $"Warm-up takes 0 to {totalSteps - 1} steps, not {warmupSteps}.");
        TotalSteps = totalSteps;
        MinFactor = minFactor;
        WarmupSteps = warmupSteps;
    }

    /// <summary>The number of steps over which the factor falls.</summary>
    public int TotalSteps { get; }

    /// <summary>The factor at and after <see cref="TotalSteps"/>.</summary>
    public float MinFactor { get; }

    /// <summary>The number of warm-up steps at the start.</summary>
    public int WarmupSteps { get; }

    /// <summary>The steps of <paramref name="epochs"/> epochs over <paramref name="samples"/> samples in batches of <paramref name="batchSize"/> (the last batch may be partial).</summary>
    public static int StepsFor(int samples, int batchSize, int epochs) => checked((samples + batchSize - 1) / batchSize * epochs);

    /// <inheritdoc/>
    public override float Factor(int step)
    {
        if (step < WarmupSteps) return (step + 1f) / WarmupSteps;
        if (step >= TotalSteps) return MinFactor;
        double progress = (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        return (float)(MinFactor + (1 - MinFactor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
