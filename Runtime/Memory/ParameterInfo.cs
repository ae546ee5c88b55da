using System;

namespace ModelGen;

/// <summary>One parameter of a compiled model: its path name, shape, place in the arena and initializer.</summary>
public sealed class ParameterInfo
{
    /// <summary>Describes a parameter.</summary>
    /// <param name="name">The path name.</param>
    /// <param name="shape">The dimensions.</param>
    /// <param name="offset">Offset of element 0 in the arena, in floats.</param>
    /// <param name="init">The initializer.</param>
    /// <param name="trainable">False for state that is saved with the model but not optimized (running statistics).</param>
    public ParameterInfo(string name, int[] shape, int offset, Init init, bool trainable = true)
    {
        Trainable = trainable;
        Name = name;
        Shape = shape;
        Offset = offset;
        Length = Tensor.ShapeLength(shape);
        Init = init;
    }

    /// <summary>
    /// Describes a parameter whose initializer takes a scale: the standard deviation of <see cref="Init.Normal"/> or
    /// the bound of <see cref="Init.Uniform"/> (other initializers ignore it).
    /// </summary>
    public ParameterInfo(string name, int[] shape, int offset, Init init, double scale) : this(name, shape, offset, init)
    {
        if (!(scale >= 0) || double.IsInfinity(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), $"The initializer scale of '{name}' must be finite and non-negative, not {scale}.");
        Scale = scale;
    }

    /// <summary>The path name, such as <c>hidden.weight</c> or <c>blocks.2.fc1.bias</c>.</summary>
    public string Name { get; }

    /// <summary>The dimensions.</summary>
    public int[] Shape { get; }

    /// <summary>Offset of element 0 in the parameter (and gradient) arena, in floats; a multiple of 16.</summary>
    public int Offset { get; }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>The initializer.</summary>
    public Init Init { get; }

    /// <summary>
    /// Whether optimizers update it. State that is not trained (BatchNorm's running statistics) comes after every
    /// trained parameter in the arena, so optimizers work on the prefix <see cref="ParameterStore.TrainableLength"/>.
    /// </summary>
    public bool Trainable { get; }

    /// <summary>
    /// The initializer's scale when given: the standard deviation of <see cref="Init.Normal"/> (0.02 when null) or the
    /// bound of <see cref="Init.Uniform"/> (0.05 when null). Other initializers ignore it.
    /// </summary>
    public double? Scale { get; }

    /// <summary>
    /// Fan-in: for a matrix (in, out) its first dimension; for a convolution weight (out, in/groups, k, …) the second
    /// dimension times the receptive field (PyTorch's convention); else the length.
    /// </summary>
    public int FanIn => Shape.Length == 2 ? Shape[0] : Shape.Length > 2 ? Shape[1] * Receptive : Length;

    /// <summary>Fan-out: for a matrix (in, out) its second dimension; for a convolution weight the first times the receptive field; else the length.</summary>
    public int FanOut => Shape.Length == 2 ? Shape[1] : Shape.Length > 2 ? Shape[0] * Receptive : Length;

    int Receptive
    {
        get
        {
            int r = 1;
            for (int i = 2; i < Shape.Length; i++) r *= Shape[i];
            return r;
        }
    }
}
