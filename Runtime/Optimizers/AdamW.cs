using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen;

/// <summary>
/// Adam with decoupled weight decay, with PyTorch's semantics: <c>p *= 1 - lr·wd</c>;
/// <c>m = β1·m + (1-β1)·g</c>; <c>v = β2·v + (1-β2)·g²</c>;
/// <c>p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + ε)</c>, i.e. <c>lr · m̂ / (sqrt(v̂) + ε)</c>.
/// </summary>
public sealed class AdamW : Optimizer
{
    float[]? _m;
    float[]? _v;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size.</param>
    /// <param name="beta1">The decay of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">The decay of the second-moment average, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator for stability.</param>
    /// <param name="weightDecay">The decoupled weight decay: each step multiplies parameters by <c>1 - lr·weightDecay</c>.</param>
    public AdamW(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0.01f)
        : base(learningRate)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), $"beta1 must be in [0, 1), not {beta1}.");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), $"beta2 must be in [0, 1), not {beta2}.");
        if (!(epsilon >= 0) || float.IsInfinity(epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), $"epsilon must be finite and non-negative, not {epsilon}.");
        if (!(weightDecay >= 0) || float.IsInfinity(weightDecay))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), $"Weight decay must be finite and non-negative, not {weightDecay}.");
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
    }

    /// <summary>The first-moment decay.</summary>
    public float Beta1 { get; }

    /// <summary>The second-moment decay.</summary>
    public float Beta2 { get; }

    /// <summary>The denominator term.</summary>
    public float Epsilon { get; }

    /// <summary>The decoupled weight decay.</summary>
    public float WeightDecay { get; }

    /// <inheritdoc/>
    public override void Step(ParameterStore parameters)
    {
        Bind(parameters);
        Span<float> p = parameters.Values;
        if (_m == null)
        {
            _m = new float[p.Length];
            _v = new float[p.Length];
        }
        int t = StepCount + 1;
        double lr = CurrentLearningRate;
        float decay = (float)(1.0 - lr * WeightDecay);
        float stepSize = (float)(lr / (1.0 - Math.Pow(Beta1, t)));
        float invSqrtBc2 = (float)(1.0 / Math.Sqrt(1.0 - Math.Pow(Beta2, t)));
        UpdateParallel(p, parameters.Gradients, _m, _v!, decay, Beta1, Beta2, stepSize, invSqrtBc2, Epsilon);
        StepCount = t;
    }

    /// <summary>Arenas at least this long are updated in chunks on the CPU worker pool (the update is memory- and divide-bound).</summary>
    const int ParallelLength = 1 << 15;

    unsafe struct Chunked
    {
        public float* P, G, M, V;
        public int N, Chunks;
        public float Decay, B1, B2, StepSize, InvSqrtBc2, Eps;
    }

    /// <summary>
    /// The update split into 4 chunks per thread (whole 64-float blocks; a delayed thread holds up one small chunk) on
    /// <see cref="Cpu.WorkerPool"/>; every element gets the
    /// same arithmetic as on one thread, so the result is bit for bit the same.
    /// </summary>
    static unsafe void UpdateParallel(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float decay, float b1, float b2, float stepSize, float invSqrtBc2, float eps)
    {
        int threads = Cpu.CpuFeatures.Threads;
        if (threads > 1 && p.Length >= ParallelLength)
        {
            fixed (float* pp = p)
            fixed (float* pg = g)
            fixed (float* pm = m)
            fixed (float* pv = v)
            {
                var args = new Chunked
                {
                    P = pp, G = pg, M = pm, V = pv, N = p.Length, Chunks = 4 * threads,
                    Decay = decay, B1 = b1, B2 = b2, StepSize = stepSize, InvSqrtBc2 = invSqrtBc2, Eps = eps,
                };
                if (Cpu.WorkerPool.TryRun(&UpdateChunk, (nint)(&args), args.Chunks, threads))
                    return;
            }
        }
        Update(p, g, m, v, decay, b1, b2, stepSize, invSqrtBc2, eps);
    }

    static unsafe void UpdateChunk(nint context, int index)
    {
        var a = (Chunked*)context;
        int per = ((a->N + a->Chunks - 1) / a->Chunks + 63) & ~63;
        int start = Math.Min(a->N, index * per), end = Math.Min(a->N, start + per);
        if (start >= end)
            return;
        int len = end - start;
        Update(new Span<float>(a->P + start, len), new ReadOnlySpan<float>(a->G + start, len), new Span<float>(a->M + start, len),
            new Span<float>(a->V + start, len), a->Decay, a->B1, a->B2, a->StepSize, a->InvSqrtBc2, a->Eps);
    }

    static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float decay, float b1, float b2, float stepSize, float invSqrtBc2, float eps)
    {
        int n = p.Length;
        float c1 = 1 - b1, c2 = 1 - b2;
        ref float pr = ref MemoryMarshal.GetReference(p);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float mr = ref MemoryMarshal.GetReference(m);
        ref float vr = ref MemoryMarshal.GetReference(v);
        int i = 0;
        if (UseVector512)
        {
            var vdecay = Vector512.Create(decay); var vb1 = Vector512.Create(b1); var vb2 = Vector512.Create(b2);
            var vc1 = Vector512.Create(c1); var vc2 = Vector512.Create(c2); var vstep = Vector512.Create(stepSize);
            var vinv = Vector512.Create(invSqrtBc2); var veps = Vector512.Create(eps);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var gv = Vector512.LoadUnsafe(ref gr, (nuint)i);
                var mv = vb1 * Vector512.LoadUnsafe(ref mr, (nuint)i) + vc1 * gv;
                var vv = vb2 * Vector512.LoadUnsafe(ref vr, (nuint)i) + vc2 * (gv * gv);
                mv.StoreUnsafe(ref mr, (nuint)i);
                vv.StoreUnsafe(ref vr, (nuint)i);
                var pv = Vector512.LoadUnsafe(ref pr, (nuint)i) * vdecay;
                (pv - vstep * mv / (Vector512.Sqrt(vv) * vinv + veps)).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        if (UseVector256)
        {
            var vdecay = Vector256.Create(decay); var vb1 = Vector256.Create(b1); var vb2 = Vector256.Create(b2);
            var vc1 = Vector256.Create(c1); var vc2 = Vector256.Create(c2); var vstep = Vector256.Create(stepSize);
            var vinv = Vector256.Create(invSqrtBc2); var veps = Vector256.Create(eps);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var gv = Vector256.LoadUnsafe(ref gr, (nuint)i);
                var mv = vb1 * Vector256.LoadUnsafe(ref mr, (nuint)i) + vc1 * gv;
                var vv = vb2 * Vector256.LoadUnsafe(ref vr, (nuint)i) + vc2 * (gv * gv);
                mv.StoreUnsafe(ref mr, (nuint)i);
                vv.StoreUnsafe(ref vr, (nuint)i);
                var pv = Vector256.LoadUnsafe(ref pr, (nuint)i) * vdecay;
                (pv - vstep * mv / (Vector256.Sqrt(vv) * vinv + veps)).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float gv = Unsafe.Add(ref gr, i);
            float mv = b1 * Unsafe.Add(ref mr, i) + c1 * gv;
            float vv = b2 * Unsafe.Add(ref vr, i) + c2 * (gv * gv);
            Unsafe.Add(ref mr, i) = mv;
            Unsafe.Add(ref vr, i) = vv;
            float pv = Unsafe.Add(ref pr, i) * decay;
            Unsafe.Add(ref pr, i) = pv - stepSize * mv / (MathF.Sqrt(vv) * invSqrtBc2 + eps);
        }
    }
}
