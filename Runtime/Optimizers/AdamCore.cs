using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen;

/// <summary>Weight decay applied to the parameters (AdamW): <c>p *= 1 - lr·wd</c> before the Adam update.</summary>
internal struct DecoupledDecay { }

/// <summary>Weight decay added to the gradient (Adam, an L2 penalty): <c>g += wd·p</c> before the moments.</summary>
internal struct CoupledDecay { }

/// <summary>
/// The Adam update shared by <see cref="Adam"/> and <see cref="AdamW"/>. The decay mode is a type parameter over
/// structs, so the JIT compiles one specialized loop per mode with the other mode's work removed: neither optimizer
/// pays for the other.
/// </summary>
internal static class AdamCore
{
    /// <summary>The state buffers: the first and second moments.</summary>
    internal static readonly string[] StateNames = { "m", "v" };

    /// <summary>The hyperparameters as the update uses them: rounded to float once, in <see cref="Validate"/>.</summary>
    internal readonly record struct Hyperparameters(float Beta1, float Beta2, float Epsilon, float WeightDecay);

    internal static void AddHyperparameters(IDictionary<string, string> into, Hyperparameters h)
    {
        into["beta1"] = Optimizer.Format(h.Beta1);
        into["beta2"] = Optimizer.Format(h.Beta2);
        into["epsilon"] = Optimizer.Format(h.Epsilon);
        into["weight_decay"] = Optimizer.Format(h.WeightDecay);
    }

    /// <summary>Rounds the constructor's arguments to float and checks them (as floats: 0.99999999 rounds to 1 and is refused).</summary>
    internal static Hyperparameters Validate(double beta1, double beta2, double epsilon, double weightDecay)
    {
        var h = new Hyperparameters(Optimizer.ToFloat(beta1), Optimizer.ToFloat(beta2), Optimizer.ToFloat(epsilon), Optimizer.ToFloat(weightDecay));
        if (!(h.Beta1 >= 0 && h.Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), $"beta1 must be in [0, 1), not {beta1}.");
        if (!(h.Beta2 >= 0 && h.Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), $"beta2 must be in [0, 1), not {beta2}.");
        if (!(h.Epsilon >= 0) || float.IsInfinity(h.Epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), $"epsilon must be finite and non-negative, not {epsilon}.");
        if (!(h.WeightDecay >= 0) || float.IsInfinity(h.WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), $"Weight decay must be finite and non-negative, not {weightDecay}.");
        return h;
    }

    /// <summary>
    /// Step <paramref name="t"/> (from 1) at learning rate <paramref name="lr"/>: allocates the moments on the first
    /// call, then <c>m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²; p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + ε)</c>.
    /// </summary>
    internal static void Step<TMode>(ParameterStore parameters, ref float[]? m, ref float[]? v, int t, double lr,
        Hyperparameters h) where TMode : struct
    {
        (float beta1, float beta2, float epsilon, float weightDecay) = h;
        Span<float> p = parameters.TrainableValues;
        if (m == null || v == null)
        {
            m = new float[p.Length];
            v = new float[p.Length];
        }
        // Decoupled: the factor on p; coupled: the L2 coefficient on p added to g.
        float decay = typeof(TMode) == typeof(CoupledDecay) ? weightDecay : (float)(1.0 - lr * weightDecay);
        float stepSize = (float)(lr / (1.0 - Math.Pow(beta1, t)));
        float invSqrtBc2 = (float)(1.0 / Math.Sqrt(1.0 - Math.Pow(beta2, t)));
        Parallel<TMode>(p, parameters.TrainableGradients, m, v, decay, beta1, beta2, stepSize, invSqrtBc2, epsilon);
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
    /// The update split into 4 chunks per thread (whole 64-float blocks, so a delayed thread holds up one small chunk)
    /// on <see cref="Cpu.WorkerPool"/>; every element gets the same arithmetic as on one thread, so the result is bit
    /// for bit the same.
    /// </summary>
    static unsafe void Parallel<TMode>(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float decay, float b1, float b2, float stepSize, float invSqrtBc2, float eps) where TMode : struct
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
                if (Cpu.WorkerPool.TryRun(&Chunk<TMode>, (nint)(&args), args.Chunks, threads))
                    return;
            }
        }
        Kernel<TMode>(p, g, m, v, decay, b1, b2, stepSize, invSqrtBc2, eps);
    }

    static unsafe void Chunk<TMode>(nint context, int index) where TMode : struct
    {
        var a = (Chunked*)context;
        int per = ((a->N + a->Chunks - 1) / a->Chunks + 63) & ~63;
        int start = Math.Min(a->N, index * per), end = Math.Min(a->N, start + per);
        if (start >= end)
            return;
        int len = end - start;
        Kernel<TMode>(new Span<float>(a->P + start, len), new ReadOnlySpan<float>(a->G + start, len), new Span<float>(a->M + start, len),
            new Span<float>(a->V + start, len), a->Decay, a->B1, a->B2, a->StepSize, a->InvSqrtBc2, a->Eps);
    }

    static void Kernel<TMode>(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float decay, float b1, float b2, float stepSize, float invSqrtBc2, float eps) where TMode : struct
    {
        bool coupled = typeof(TMode) == typeof(CoupledDecay);   // a JIT-time constant
        int n = p.Length;
        float c1 = 1 - b1, c2 = 1 - b2;
        ref float pr = ref MemoryMarshal.GetReference(p);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float mr = ref MemoryMarshal.GetReference(m);
        ref float vr = ref MemoryMarshal.GetReference(v);
        int i = 0;
        if (Optimizer.UseVector512)
        {
            var vdecay = Vector512.Create(decay); var vb1 = Vector512.Create(b1); var vb2 = Vector512.Create(b2);
            var vc1 = Vector512.Create(c1); var vc2 = Vector512.Create(c2); var vstep = Vector512.Create(stepSize);
            var vinv = Vector512.Create(invSqrtBc2); var veps = Vector512.Create(eps);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var pv = Vector512.LoadUnsafe(ref pr, (nuint)i);
                var gv = Vector512.LoadUnsafe(ref gr, (nuint)i);
                if (coupled) gv += vdecay * pv;
                else pv *= vdecay;
                var mv = vb1 * Vector512.LoadUnsafe(ref mr, (nuint)i) + vc1 * gv;
                var vv = vb2 * Vector512.LoadUnsafe(ref vr, (nuint)i) + vc2 * (gv * gv);
                mv.StoreUnsafe(ref mr, (nuint)i);
                vv.StoreUnsafe(ref vr, (nuint)i);
                (pv - vstep * mv / (Vector512.Sqrt(vv) * vinv + veps)).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        if (Optimizer.UseVector256)
        {
            var vdecay = Vector256.Create(decay); var vb1 = Vector256.Create(b1); var vb2 = Vector256.Create(b2);
            var vc1 = Vector256.Create(c1); var vc2 = Vector256.Create(c2); var vstep = Vector256.Create(stepSize);
            var vinv = Vector256.Create(invSqrtBc2); var veps = Vector256.Create(eps);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var pv = Vector256.LoadUnsafe(ref pr, (nuint)i);
                var gv = Vector256.LoadUnsafe(ref gr, (nuint)i);
                if (coupled) gv += vdecay * pv;
                else pv *= vdecay;
                var mv = vb1 * Vector256.LoadUnsafe(ref mr, (nuint)i) + vc1 * gv;
                var vv = vb2 * Vector256.LoadUnsafe(ref vr, (nuint)i) + vc2 * (gv * gv);
                mv.StoreUnsafe(ref mr, (nuint)i);
                vv.StoreUnsafe(ref vr, (nuint)i);
                (pv - vstep * mv / (Vector256.Sqrt(vv) * vinv + veps)).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float pv = Unsafe.Add(ref pr, i);
            float gv = Unsafe.Add(ref gr, i);
            if (coupled) gv += decay * pv;
            else pv *= decay;
            float mv = b1 * Unsafe.Add(ref mr, i) + c1 * gv;
            float vv = b2 * Unsafe.Add(ref vr, i) + c2 * (gv * gv);
            Unsafe.Add(ref mr, i) = mv;
            Unsafe.Add(ref vr, i) = vv;
            Unsafe.Add(ref pr, i) = pv - stepSize * mv / (MathF.Sqrt(vv) * invSqrtBc2 + eps);
        }
    }
}
