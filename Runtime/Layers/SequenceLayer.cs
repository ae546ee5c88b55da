using System;

namespace ModelGen;

/// <summary>Shared plumbing of the sequence layers: stand-alone parameter tensors and binding to a store.</summary>
internal static class SequenceLayer
{
    /// <summary>A stand-alone parameter that requires a gradient, filled by <paramref name="init"/>.</summary>
    public static Tensor Parameter(string name, Init init, Random rng, params int[] shape)
    {
        var t = new Tensor(shape) { RequiresGrad = true };
        Initializers.Fill(t.Data, new ParameterInfo(name, shape, 0, init), rng);
        return t;
    }

    /// <summary><c>store[prefix.name]</c>, checked against the layer's shape.</summary>
    public static Tensor Bind(string layer, ParameterStore store, string prefix, string name, Tensor current)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prefix);
        var value = store[prefix + "." + name].Value;
        if (!value.Shape.SequenceEqual(current.Shape))
            throw new ArgumentException(
                $"{layer}: parameter '{prefix}.{name}' has shape {Tensor.FormatShape(value.Shape)} but the layer needs {Tensor.FormatShape(current.Shape)}.");
        return value;
    }

    public static void Positive(int value, string name, string layer)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{layer}: {name} must be positive.");
    }
}
