using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen;

/// <summary>
/// Updates a model's parameters from their gradients. An optimizer works on the two flat arenas of a
/// <see cref="ParameterStore"/> (<see cref="ParameterStore.Values"/> and <see cref="ParameterStore.Gradients"/>)
/// with SIMD loops; its state (momentum, moments) is allocated on the first <see cref="Step"/>, sized to the arena,
/// and every later step allocates nothing. An optimizer instance belongs to one parameter store.
/// </summary>
/// <remarks>
/// <see cref="Step"/> is a template method: it binds the store, applies <see cref="ClipGradientNorm"/> when set, lets the
/// concrete optimizer update the parameters (<see cref="Update"/>), then counts the step. Every optimizer therefore
/// gets clipping and schedules the same way.
/// </remarks>
public abstract class Optimizer
{
    ParameterStore? _owner;
    float? _clipGradientNorm;

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

    /// <summary>
    /// Clipping by global norm, as PyTorch's <c>clip_grad_norm_</c> (L2 norm, <c>error_if_nonfinite=False</c>): null
    /// (the default) turns it off; otherwise each <see cref="Step"/> first computes the L2 norm of the whole gradient
    /// arena (in double) and multiplies every gradient by <c>min(1, maxNorm / (norm + 1e-6))</c>, in place, before the
    /// update. A non-finite norm makes the factor NaN or 0, as in PyTorch. Must be positive and finite.
    /// </summary>
    public float? ClipGradientNorm
    {
        get => _clipGradientNorm;
        set
        {
            if (value is float v && (!(v > 0) || float.IsInfinity(v)))
                throw new ArgumentOutOfRangeException(nameof(value), $"The clipping norm must be positive and finite, not {v}.");
            _clipGradientNorm = value;
        }
    }

    /// <summary>
    /// The global L2 norm of the gradients before clipping, measured by the last <see cref="Step"/> taken while
    /// <see cref="ClipGradientNorm"/> was set (the value PyTorch's <c>clip_grad_norm_</c> returns); null before that.
    /// </summary>
    public double? LastGradientNorm { get; private set; }

    /// <summary>
    /// Applies one update to every parameter of <paramref name="parameters"/> from its current gradient: clips the
    /// gradients when <see cref="ClipGradientNorm"/> is set, calls <see cref="Update"/>, then increments <see cref="StepCount"/>.
    /// </summary>
    public void Step(ParameterStore parameters)
    {
        Bind(parameters);
        if (_clipGradientNorm is float maxNorm) LastGradientNorm = ClipByGlobalNorm(parameters.TrainableGradients, maxNorm);
        Update(parameters);
        StepCount++;
    }

    /// <summary>
    /// The optimizer's own update of <see cref="ParameterStore.Values"/> from <see cref="ParameterStore.Gradients"/>
    /// (already clipped), at <see cref="CurrentLearningRate"/>; <see cref="StepCount"/> is the number of earlier steps.
    /// Allocates its state on the first call and nothing after.
    /// </summary>
    protected abstract void Update(ParameterStore parameters);

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

    /// <summary>
    /// Scales <paramref name="gradients"/> in place by <c>min(1, maxNorm / (norm + 1e-6))</c> and returns the norm
    /// before scaling (PyTorch's <c>clip_grad_norm_</c>).
    /// </summary>
    internal static double ClipByGlobalNorm(Span<float> gradients, float maxNorm)
    {
        double norm = Math.Sqrt(SumOfSquares(gradients));
        // PyTorch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1, computed in the gradients' dtype.
        float coef = (float)(maxNorm / (norm + 1e-6));
        if (!(coef >= 1f)) Scale(gradients, coef);   // NaN (a NaN norm) scales too, as in PyTorch
        return norm;
    }

    /// <summary>Number of double accumulators; element i always goes to accumulator i mod Lanes.</summary>
    const int Lanes = 16;

    /// <summary>
    /// The sum of squares of <paramref name="x"/> in double. Element <c>i</c> is squared exactly in double and added to
    /// accumulator <c>i mod 16</c> in index order on every path, and the 16 accumulators are added in a fixed order, so
    /// the 512-bit, 256-bit and scalar paths give the same bits.
    /// </summary>
    internal static double SumOfSquares(ReadOnlySpan<float> x)
    {
        int n = x.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        Span<double> acc = stackalloc double[Lanes];
        acc.Clear();
        ref double ar = ref MemoryMarshal.GetReference(acc);
        int i = 0;
        if (UseVector512)
        {
            var a0 = Vector512<double>.Zero; var a1 = Vector512<double>.Zero;
            for (; i <= n - Lanes; i += Lanes)
            {
                var v = Vector512.LoadUnsafe(ref xr, (nuint)i);
                var lo = Vector512.WidenLower(v); var hi = Vector512.WidenUpper(v);
                a0 += lo * lo;
                a1 += hi * hi;
            }
            a0.StoreUnsafe(ref ar, 0);
            a1.StoreUnsafe(ref ar, 8);
        }
        else if (UseVector256)
        {
            var a0 = Vector256<double>.Zero; var a1 = Vector256<double>.Zero;
            var a2 = Vector256<double>.Zero; var a3 = Vector256<double>.Zero;
            for (; i <= n - Lanes; i += Lanes)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                var w = Vector256.LoadUnsafe(ref xr, (nuint)(i + 8));
                var l0 = Vector256.WidenLower(v); var l1 = Vector256.WidenUpper(v);
                var l2 = Vector256.WidenLower(w); var l3 = Vector256.WidenUpper(w);
                a0 += l0 * l0;
                a1 += l1 * l1;
                a2 += l2 * l2;
                a3 += l3 * l3;
            }
            a0.StoreUnsafe(ref ar, 0);
            a1.StoreUnsafe(ref ar, 4);
            a2.StoreUnsafe(ref ar, 8);
            a3.StoreUnsafe(ref ar, 12);
        }
        for (; i < n; i++)
        {
            double d = Unsafe.Add(ref xr, i);
            Unsafe.Add(ref ar, i & (Lanes - 1)) += d * d;
        }
        double sum = 0;
        for (int l = 0; l < Lanes; l++) sum += acc[l];
        return sum;
    }

    /// <summary>Multiplies every element of <paramref name="x"/> by <paramref name="factor"/> (in float).</summary>
    internal static void Scale(Span<float> x, float factor)
    {
        int n = x.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        int i = 0;
        if (UseVector512)
        {
            var f = Vector512.Create(factor);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref xr, (nuint)i) * f).StoreUnsafe(ref xr, (nuint)i);
        }
        if (UseVector256)
        {
            var f = Vector256.Create(factor);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref xr, (nuint)i) * f).StoreUnsafe(ref xr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref xr, i) *= factor;
    }
}
