using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen;

/// <summary>
/// RMSprop with PyTorch's semantics (<c>torch.optim.RMSprop</c>): <c>g += wd·p</c>; <c>s = α·s + (1-α)·g²</c>;
/// centered: <c>a = α·a + (1-α)·g</c> and <c>d = sqrt(s - a²) + ε</c>, else <c>d = sqrt(s) + ε</c>; with momentum
/// <c>buf = μ·buf + g/d; p -= lr·buf</c>, else <c>p -= lr·g/d</c>. All state starts at zero.
/// </summary>
public sealed class RMSprop : Optimizer
{
    float[]? _square;
    float[]? _gradAverage;
    float[]? _momentumBuffer;

    /// <summary>Creates the optimizer (PyTorch's defaults, except the learning rate, which must be given).</summary>
    /// <param name="learningRate">The step size (PyTorch's default is 0.01).</param>
    /// <param name="alpha">The smoothing constant of the squared-gradient average, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator (after the square root) for stability.</param>
    /// <param name="weightDecay">The L2 penalty added to the gradient: <c>g += weightDecay·p</c>.</param>
    /// <param name="momentum">The momentum factor in [0, 1); 0 turns momentum off.</param>
    /// <param name="centered">Whether to normalize by the estimated variance (subtracting the squared mean gradient).</param>
    public RMSprop(double learningRate, double alpha = 0.99, double epsilon = 1e-8, double weightDecay = 0, double momentum = 0, bool centered = false)
        : base(learningRate)
    {
        _alpha = ToFloat(alpha);
        _epsilon = ToFloat(epsilon);
        _weightDecay = ToFloat(weightDecay);
        _momentum = ToFloat(momentum);
        if (!(_alpha >= 0 && _alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), $"alpha must be in [0, 1), not {alpha}.");
        if (!(_epsilon >= 0) || float.IsInfinity(_epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), $"epsilon must be finite and non-negative, not {epsilon}.");
        if (!(_weightDecay >= 0) || float.IsInfinity(_weightDecay))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), $"Weight decay must be finite and non-negative, not {weightDecay}.");
        if (!(_momentum >= 0 && _momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), $"Momentum must be in [0, 1), not {momentum}.");
        Centered = centered;
    }

    readonly float _alpha, _epsilon, _weightDecay, _momentum;

    /// <summary>The smoothing constant of the averages (kept as the float the update uses).</summary>
    public double Alpha => _alpha;

    /// <summary>The denominator term (kept as the float the update uses).</summary>
    public double Epsilon => _epsilon;

    /// <summary>The L2 weight decay added to the gradient (kept as the float the update uses).</summary>
    public double WeightDecay => _weightDecay;

    /// <summary>The momentum factor (kept as the float the update uses).</summary>
    public double Momentum => _momentum;

    /// <summary>Whether the update is normalized by the centered second moment.</summary>
    public bool Centered { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> StateNames
    {
        get
        {
            var names = new List<string>(3) { "square_avg" };
            if (Centered) names.Add("grad_avg");
            if (_momentum != 0) names.Add("momentum_buffer");
            return names;
        }
    }

    /// <inheritdoc/>
    protected override float[]? GetStateBuffer(string name) => name switch
    {
        "square_avg" => _square,
        "grad_avg" => _gradAverage,
        "momentum_buffer" => _momentumBuffer,
        _ => null,
    };

    /// <inheritdoc/>
    protected override void SetStateBuffer(string name, float[] values)
    {
        switch (name)
        {
            case "square_avg": _square = values; break;
            case "grad_avg": _gradAverage = values; break;
            case "momentum_buffer": _momentumBuffer = values; break;
        }
    }

    /// <inheritdoc/>
    protected override void AddHyperparameters(IDictionary<string, string> into)
    {
        into["alpha"] = Format(_alpha);
        into["epsilon"] = Format(_epsilon);
        into["weight_decay"] = Format(_weightDecay);
        into["momentum"] = Format(_momentum);
        into["centered"] = Centered ? "true" : "false";
    }

    /// <inheritdoc/>
    protected override void Update(ParameterStore parameters)
    {
        Span<float> p = parameters.TrainableValues;
        _square ??= new float[p.Length];
        if (Centered) _gradAverage ??= new float[p.Length];
        if (_momentum != 0) _momentumBuffer ??= new float[p.Length];
        Kernel(p, parameters.TrainableGradients, _square, _gradAverage, _momentumBuffer, CurrentRate, _alpha, _epsilon, _weightDecay, _momentum, Centered);
    }

    static void Kernel(Span<float> p, ReadOnlySpan<float> g, Span<float> sq, Span<float> avg, Span<float> buf,
        float lr, float alpha, float eps, float wd, float momentum, bool centered)
    {
        int n = p.Length;
        bool hasMomentum = momentum != 0;
        float c = 1 - alpha;
        ref float pr = ref MemoryMarshal.GetReference(p);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float sr = ref MemoryMarshal.GetReference(sq);
        ref float ar = ref MemoryMarshal.GetReference(avg);
        ref float br = ref MemoryMarshal.GetReference(buf);
        int i = 0;
        if (Optimizer.UseVector512)
        {
            var vlr = Vector512.Create(lr); var va = Vector512.Create(alpha); var vc = Vector512.Create(c);
            var veps = Vector512.Create(eps); var vwd = Vector512.Create(wd); var vm = Vector512.Create(momentum);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var pv = Vector512.LoadUnsafe(ref pr, (nuint)i);
                var gv = Vector512.LoadUnsafe(ref gr, (nuint)i) + vwd * pv;
                var sv = va * Vector512.LoadUnsafe(ref sr, (nuint)i) + vc * (gv * gv);
                sv.StoreUnsafe(ref sr, (nuint)i);
                Vector512<float> d;
                if (centered)
                {
                    var av = va * Vector512.LoadUnsafe(ref ar, (nuint)i) + vc * gv;
                    av.StoreUnsafe(ref ar, (nuint)i);
                    d = Vector512.Sqrt(sv - av * av) + veps;
                }
                else d = Vector512.Sqrt(sv) + veps;
                var u = gv / d;
                if (hasMomentum)
                {
                    u = vm * Vector512.LoadUnsafe(ref br, (nuint)i) + u;
                    u.StoreUnsafe(ref br, (nuint)i);
                }
                (pv - vlr * u).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        if (Optimizer.UseVector256)
        {
            var vlr = Vector256.Create(lr); var va = Vector256.Create(alpha); var vc = Vector256.Create(c);
            var veps = Vector256.Create(eps); var vwd = Vector256.Create(wd); var vm = Vector256.Create(momentum);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var pv = Vector256.LoadUnsafe(ref pr, (nuint)i);
                var gv = Vector256.LoadUnsafe(ref gr, (nuint)i) + vwd * pv;
                var sv = va * Vector256.LoadUnsafe(ref sr, (nuint)i) + vc * (gv * gv);
                sv.StoreUnsafe(ref sr, (nuint)i);
                Vector256<float> d;
                if (centered)
                {
                    var av = va * Vector256.LoadUnsafe(ref ar, (nuint)i) + vc * gv;
                    av.StoreUnsafe(ref ar, (nuint)i);
                    d = Vector256.Sqrt(sv - av * av) + veps;
                }
                else d = Vector256.Sqrt(sv) + veps;
                var u = gv / d;
                if (hasMomentum)
                {
                    u = vm * Vector256.LoadUnsafe(ref br, (nuint)i) + u;
                    u.StoreUnsafe(ref br, (nuint)i);
                }
                (pv - vlr * u).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float pv = Unsafe.Add(ref pr, i);
            float gv = Unsafe.Add(ref gr, i) + wd * pv;
            float sv = alpha * Unsafe.Add(ref sr, i) + c * (gv * gv);
            Unsafe.Add(ref sr, i) = sv;
            float d;
            if (centered)
            {
                float av = alpha * Unsafe.Add(ref ar, i) + c * gv;
                Unsafe.Add(ref ar, i) = av;
                d = MathF.Sqrt(sv - av * av) + eps;
            }
            else d = MathF.Sqrt(sv) + eps;
            float u = gv / d;
            if (hasMomentum)
            {
                u = momentum * Unsafe.Add(ref br, i) + u;
                Unsafe.Add(ref br, i) = u;
            }
            Unsafe.Add(ref pr, i) = pv - lr * u;
        }
    }
}
