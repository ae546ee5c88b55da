using System;
using System.Runtime.Intrinsics;

namespace ModelGen;

/// <summary>
/// Updates a model's parameters from their gradients. An optimizer works on the two flat arenas of a
/// <see cref="ParameterStore"/> (<see cref="ParameterStore.Values"/> and <see cref="ParameterStore.Gradients"/>)
/// with SIMD loops; its state (momentum, moments) is allocated on the first <see cref="Step"/>, sized to the arena,
/// and every later step allocates nothing. An optimizer instance belongs to one parameter store.
/// </summary>
public abstract class Optimizer
{
    ParameterStore? _owner;

    /// <summary>Sets the learning rate.</summary>
    protected Optimizer(float learningRate)
    {
        if (!(learningRate >= 0) || float.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), $"The learning rate must be finite and non-negative, not {learningRate}.");
        LearningRate = learningRate;
    }

    /// <summary>The step size; may be changed between steps (learning-rate schedules).</summary>
    public float LearningRate { get; set; }

    /// <summary>
    /// Scales <see cref="LearningRate"/> step by step (for example <see cref="CosineDecay"/>); null keeps it constant.
    /// Step <c>t</c> (counting from 0) uses <c>LearningRate * Schedule.Factor(t)</c>.
    /// </summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>The learning rate of the step about to be taken: <see cref="LearningRate"/> scaled by the schedule.</summary>
    public float CurrentLearningRate => Schedule == null ? LearningRate : LearningRate * Schedule.Factor(StepCount);

    /// <summary>The number of steps taken so far.</summary>
    public int StepCount { get; protected set; }

    /// <summary>Applies one update to every parameter of <paramref name="parameters"/> from its current gradient.</summary>
    public abstract void Step(ParameterStore parameters);

    /// <summary>
    /// The widest vector the update loops may use, in bits (512, 256 or 0 for scalar only). Tests lower it to run
    /// each path; every path computes the same values bit for bit (no fused multiply-add anywhere).
    /// </summary>
    internal static int MaxVectorBits { get; set; } = 512;

    internal static bool UseVector512 => MaxVectorBits >= 512 && Vector512.IsHardwareAccelerated;

    internal static bool UseVector256 => MaxVectorBits >= 256 && Vector256.IsHardwareAccelerated;

    /// <summary>
    /// Checks that <paramref name="parameters"/> is the store this optimizer's state belongs to (binding it on the
    /// first call) and returns whether this is the first step.
    /// </summary>
    protected bool Bind(ParameterStore parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (_owner == null)
        {
            _owner = parameters;
            return true;
        }
        if (!ReferenceEquals(_owner, parameters))
            throw new InvalidOperationException(
                $"This {GetType().Name} already holds state for another model's parameters; create one optimizer per model.");
        return false;
    }
}
