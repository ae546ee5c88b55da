using System;
using System.Collections.Generic;

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
    public AdamW(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
        : base(learningRate) =>
        _h = AdamCore.Validate(beta1, beta2, epsilon, weightDecay);

    readonly AdamCore.Hyperparameters _h;

    /// <summary>The hyperparameters as floats, as the update uses them (the GPU backend's device update too).</summary>
    internal AdamCore.Hyperparameters Settings => _h;

    /// <summary>The first-moment decay.</summary>
    public double Beta1 => _h.Beta1;

    /// <summary>The second-moment decay.</summary>
    public double Beta2 => _h.Beta2;

    /// <summary>The denominator term.</summary>
    public double Epsilon => _h.Epsilon;

    /// <summary>The decoupled weight decay.</summary>
    public double WeightDecay => _h.WeightDecay;

    /// <inheritdoc/>
    protected override IReadOnlyList<string> StateNames => AdamCore.StateNames;

    /// <inheritdoc/>
    protected override float[]? GetStateBuffer(string name) => name == "m" ? _m : name == "v" ? _v : null;

    /// <inheritdoc/>
    protected override void SetStateBuffer(string name, float[] values)
    {
        if (name == "m") _m = values;
        else if (name == "v") _v = values;
    }

    /// <inheritdoc/>
    protected override void AddHyperparameters(IDictionary<string, string> into) => AdamCore.AddHyperparameters(into, _h);

    /// <inheritdoc/>
    protected override void Update(ParameterStore parameters) =>
        AdamCore.Step<DecoupledDecay>(parameters, ref _m, ref _v, StepCount + 1, CurrentRate, _h);
}
