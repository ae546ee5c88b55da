using System;
using System.Collections.Generic;

namespace ModelGen;

/// <summary>
/// Adam with PyTorch's semantics (<c>torch.optim.Adam</c>, without amsgrad): weight decay is an L2 penalty added to
/// the gradient, not decoupled (for that, use <see cref="AdamW"/>): <c>g += wd·p</c>;
/// <c>m = β1·m + (1-β1)·g</c>; <c>v = β2·v + (1-β2)·g²</c>;
/// <c>p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + ε)</c>, i.e. <c>lr · m̂ / (sqrt(v̂) + ε)</c>.
/// </summary>
public sealed class Adam : Optimizer
{
    float[]? _m;
    float[]? _v;

    /// <summary>Creates the optimizer (PyTorch's defaults).</summary>
    /// <param name="learningRate">The step size.</param>
    /// <param name="beta1">The decay of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">The decay of the second-moment average, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator for stability.</param>
    /// <param name="weightDecay">The L2 penalty added to the gradient: <c>g += weightDecay·p</c>.</param>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0)
        : base(learningRate)
    {
        AdamCore.Validate(beta1, beta2, epsilon, weightDecay);
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

    /// <summary>The L2 weight decay added to the gradient.</summary>
    public float WeightDecay { get; }

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
    protected override void AddHyperparameters(IDictionary<string, string> into) => AdamCore.AddHyperparameters(into, Beta1, Beta2, Epsilon, WeightDecay);

    /// <inheritdoc/>
    protected override void Update(ParameterStore parameters) =>
        AdamCore.Step<CoupledDecay>(parameters, ref _m, ref _v, StepCount + 1, CurrentLearningRate, Beta1, Beta2, Epsilon, WeightDecay);
}
