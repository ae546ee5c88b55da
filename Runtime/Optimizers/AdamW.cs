namespace ModelGen;

/// <summary>
/// Adam with decoupled weight decay, with PyTorch's semantics: <c>p *= 1 - lr·wd</c>;
/// <c>m = β1·m + (1-β1)·g</c>; <c>v = β2·v + (1-β2)·g²</c>;
/// <c>p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + ε)</c>, i.e. <c>lr · m̂ / (sqrt(v̂) + ε)</c>.
/// </summary>
public sealed class AdamW : AdamBase
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">The step size.</param>
    /// <param name="beta1">The decay of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">The decay of the second-moment average, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator for stability.</param>
    /// <param name="weightDecay">The decoupled weight decay: each step multiplies parameters by <c>1 - lr·weightDecay</c>.</param>
    public AdamW(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
        : base(learningRate, beta1, beta2, epsilon, weightDecay)
    {
    }

    /// <inheritdoc/>
    protected override void Update(ParameterStore parameters) => Step<DecoupledDecay>(parameters);
}
