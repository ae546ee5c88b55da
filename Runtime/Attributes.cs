using System;

namespace ModelGen;

/// <summary>
/// Marks a <c>partial</c> class as a model: the generator compiles its <see cref="ForwardAttribute"/> method
/// (and <see cref="LossAttribute"/> method) into forward, backward and training code, and makes the class a
/// <see cref="ModelBase"/> with <c>Fit</c>, <c>Evaluate</c>, <c>Predict</c>, <c>Save</c> and <c>Load</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelAttribute : Attribute { }

/// <summary>
/// Marks a <c>partial</c> class as a reusable module: it has a <see cref="ForwardAttribute"/> method and may own
/// layers, other modules and <see cref="ParameterAttribute"/> properties. Modules compose inside models.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModuleAttribute : Attribute { }

/// <summary>The forward pass of a model or module. Its tensor parameters carry a leading, symbolic batch dimension.</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class ForwardAttribute : Attribute { }

/// <summary>
/// The training loss of a model: takes the forward output and the target (<see cref="Labels"/> or a <see cref="Tensor"/>)
/// and returns a scalar tensor.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class LossAttribute : Attribute { }

/// <summary>Declares a <c>partial Tensor</c> property as a trainable parameter with a static shape.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ParameterAttribute : Attribute
{
    /// <summary>Declares a parameter of the given shape.</summary>
    /// <param name="shape">The dimensions; each must be a positive constant.</param>
    public ParameterAttribute(params int[] shape) => Shape = shape;

    /// <summary>The declared dimensions.</summary>
    public int[] Shape { get; }

    /// <summary>How the parameter is initialized; <see cref="Init.HeUniform"/> unless set.</summary>
    public Init Init
    {
        get => _init;
        set => _init = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), $"{(int)value} is not an Init.");
    }

    /// <summary>The standard deviation of <see cref="Init.Normal"/>; 0.02 unless set. Ignored by other initializers. Finite and non-negative.</summary>
    public double Std { get => _std; set => _std = CheckScale(value, nameof(Std)); }

    /// <summary>The bound b of <see cref="Init.Uniform"/>'s U(-b, b); 0.05 unless set. Ignored by other initializers. Finite and non-negative.</summary>
    public double Bound { get => _bound; set => _bound = CheckScale(value, nameof(Bound)); }

    Init _init = Init.HeUniform;
    double _std = Initializers.DefaultStd;
    double _bound = Initializers.DefaultBound;

    // The rule of ParameterInfo's scale, which the generated description passes these to.
    static double CheckScale(double value, string name) =>
        value >= 0 && !double.IsInfinity(value) ? value
            : throw new ArgumentOutOfRangeException(name, $"The initializer's {name} must be finite and non-negative, not {value}.");
}

/// <summary>
/// The static per-sample shape of a forward input (the batch dimension is implicit and comes first).
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
public sealed class ShapeAttribute : Attribute
{
    /// <summary>Declares the per-sample dimensions of an input.</summary>
    /// <param name="dims">The dimensions; each must be a positive constant.</param>
    public ShapeAttribute(params int[] dims) => Dims = dims;

    /// <summary>The declared per-sample dimensions.</summary>
    public int[] Dims { get; }
}

/// <summary>Parameter initializers. Fan-in is the first dimension of a 2-D weight, fan-out the last.</summary>
public enum Init
{
    /// <summary>All zeros.</summary>
    Zeros,
    /// <summary>All ones.</summary>
    Ones,
    /// <summary>He (Kaiming) uniform: U(-b, b) with b = sqrt(6 / fanIn).</summary>
    HeUniform,
    /// <summary>He (Kaiming) normal: N(0, 2 / fanIn).</summary>
    HeNormal,
    /// <summary>Xavier (Glorot) uniform: U(-b, b) with b = sqrt(6 / (fanIn + fanOut)).</summary>
    XavierUniform,
    /// <summary>Xavier (Glorot) normal: N(0, 2 / (fanIn + fanOut)).</summary>
    XavierNormal,
    /// <summary>
    /// Normal: N(0, std²) with std = <see cref="ParameterAttribute.Std"/> (default 0.02, GPT-2's and BERT's choice);
    /// at run time <see cref="ParameterInfo.Scale"/> (default 0.02).
    /// </summary>
    Normal,
    /// <summary>
    /// Uniform: U(-b, b) with b = <see cref="ParameterAttribute.Bound"/> (default 0.05, Keras' RandomUniform);
    /// at run time <see cref="ParameterInfo.Scale"/> (default 0.05).
    /// </summary>
    Uniform,
    /// <summary>LeCun normal: N(0, 1 / fanIn), untruncated.</summary>
    LeCunNormal,
    /// <summary>LeCun uniform: U(-b, b) with b = sqrt(3 / fanIn).</summary>
    LeCunUniform,
}
