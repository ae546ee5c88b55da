using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen;

/// <summary>
/// Stochastic gradient descent with optional momentum, Nesterov momentum and (coupled, L2) weight decay, with
/// PyTorch's semantics (dampening 0): <c>g = grad + wd·p; buf = momentum·buf + g</c> (the first step sets
/// <c>buf = g</c>); <c>g = nesterov ? g + momentum·buf : buf; p -= lr·g</c>.
/// </summary>
public sealed class Sgd : Optimizer
{
    float[]? _momentumBuffer;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size.</param>
    /// <param name="momentum">The momentum factor in [0, 1); 0 turns momentum off.</param>
    /// <param name="nesterov">Whether to use Nesterov momentum (needs a positive momentum).</param>
    /// <param name="weightDecay">The L2 penalty added to the gradient: <c>g += weightDecay·p</c>.</param>
    public Sgd(double learningRate, double momentum = 0, bool nesterov = false, double weightDecay = 0) : base(learningRate)
    {
        _momentum = ToFloat(momentum);
        _weightDecay = ToFloat(weightDecay);
        if (!(_momentum >= 0 && _momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), $"Momentum must be in [0, 1), not {momentum}.");
        if (!(_weightDecay >= 0) || float.IsInfinity(_weightDecay))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), $"Weight decay must be finite and non-negative, not {weightDecay}.");
        if (nesterov && _momentum == 0)
            throw new ArgumentException("Nesterov momentum needs a positive momentum.", nameof(nesterov));
        Nesterov = nesterov;
    }

    readonly float _momentum;
    readonly float _weightDecay;

    /// <summary>The momentum factor (kept as the float the update uses).</summary>
    public double Momentum => _momentum;

    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }

    /// <summary>The L2 weight decay (kept as the float the update uses).</summary>
    public double WeightDecay => _weightDecay;

    static readonly string[] MomentumState = { "momentum_buffer" };

    /// <inheritdoc/>
    protected override IReadOnlyList<string> StateNames => _momentum != 0 ? MomentumState : Array.Empty<string>();

    /// <inheritdoc/>
    protected override float[]? GetStateBuffer(string name) => name == "momentum_buffer" ? _momentumBuffer : null;

    /// <inheritdoc/>
    protected override void SetStateBuffer(string name, float[] values)
    {
        if (name == "momentum_buffer") _momentumBuffer = values;
    }

    /// <inheritdoc/>
    protected override void AddHyperparameters(IDictionary<string, string> into)
    {
        into["momentum"] = Format(_momentum);
        into["nesterov"] = Nesterov ? "true" : "false";
        into["weight_decay"] = Format(_weightDecay);
    }

    /// <inheritdoc/>
    protected override void Update(ParameterStore parameters)
    {
        Span<float> p = parameters.TrainableValues;
        ReadOnlySpan<float> g = parameters.TrainableGradients;
        if (_momentum != 0 && _momentumBuffer == null) _momentumBuffer = new float[p.Length];
        // A zeroed buffer makes the first step buf = momentum·0 + g = g exactly, PyTorch's first-step rule.
        Kernel(p, g, _momentumBuffer, CurrentRate, _momentum, Nesterov, _weightDecay);
    }

    static void Kernel(Span<float> p, ReadOnlySpan<float> g, Span<float> buf, float lr, float momentum, bool nesterov, float wd)
    {
        int n = p.Length;
        bool hasMomentum = momentum != 0;
        ref float pr = ref MemoryMarshal.GetReference(p);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float br = ref MemoryMarshal.GetReference(buf);
        int i = 0;
        if (UseVector512)
        {
            var vlr = Vector512.Create(lr); var vm = Vector512.Create(momentum); var vwd = Vector512.Create(wd);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var pv = Vector512.LoadUnsafe(ref pr, (nuint)i);
                var gv = Vector512.LoadUnsafe(ref gr, (nuint)i) + vwd * pv;
                if (hasMomentum)
                {
                    var bv = vm * Vector512.LoadUnsafe(ref br, (nuint)i) + gv;
                    bv.StoreUnsafe(ref br, (nuint)i);
                    gv = nesterov ? gv + vm * bv : bv;
                }
                (pv - vlr * gv).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        if (UseVector256)
        {
            var vlr = Vector256.Create(lr); var vm = Vector256.Create(momentum); var vwd = Vector256.Create(wd);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var pv = Vector256.LoadUnsafe(ref pr, (nuint)i);
                var gv = Vector256.LoadUnsafe(ref gr, (nuint)i) + vwd * pv;
                if (hasMomentum)
                {
                    var bv = vm * Vector256.LoadUnsafe(ref br, (nuint)i) + gv;
                    bv.StoreUnsafe(ref br, (nuint)i);
                    gv = nesterov ? gv + vm * bv : bv;
                }
                (pv - vlr * gv).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float pv = Unsafe.Add(ref pr, i);
            float gv = Unsafe.Add(ref gr, i) + wd * pv;
            if (hasMomentum)
            {
                float bv = momentum * Unsafe.Add(ref br, i) + gv;
                Unsafe.Add(ref br, i) = bv;
                gv = nesterov ? gv + momentum * bv : bv;
            }
            Unsafe.Add(ref pr, i) = pv - lr * gv;
        }
    }
}
