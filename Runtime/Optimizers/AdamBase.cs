using System.Collections.Generic;

namespace ModelGen;

/// <summary>
/// What <see cref="Adam"/> and <see cref="AdamW"/> share: the hyperparameters (rounded to float once), the two moment
/// buffers as saved state, and the update of <see cref="AdamCore"/>; they differ only in how weight decay enters it.
/// </summary>
public abstract class AdamBase : Optimizer
{
    float[]? _m;
    float[]? _v;
    readonly AdamCore.Hyperparameters _h;

    private protected AdamBase(double learningRate, double beta1, double beta2, double epsilon, double weightDecay)
        : base(learningRate) =>
        _h = AdamCore.Validate(beta1, beta2, epsilon, weightDecay);

    /// <summary>The hyperparameters as floats, as the update uses them (the GPU backend's device update too).</summary>
    internal AdamCore.Hyperparameters Settings => _h;

    /// <summary>The first-moment decay.</summary>
    public double Beta1 => _h.Beta1;

    /// <summary>The second-moment decay.</summary>
    public double Beta2 => _h.Beta2;

    /// <summary>The denominator term.</summary>
    public double Epsilon => _h.Epsilon;

    /// <summary>The weight decay: added to the gradient by <see cref="Adam"/>, decoupled by <see cref="AdamW"/>.</summary>
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

    /// <summary>The Adam step with weight decay as <typeparamref name="TDecay"/> says (<see cref="CoupledDecay"/> or <see cref="DecoupledDecay"/>).</summary>
    private protected void Step<TDecay>(ParameterStore parameters) where TDecay : struct =>
        AdamCore.Step<TDecay>(parameters, ref _m, ref _v, StepCount + 1, CurrentRate, _h);
}
