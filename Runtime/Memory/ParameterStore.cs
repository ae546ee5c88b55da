using System;
using System.Collections;
using System.Collections.Generic;

namespace ModelGen;

/// <summary>
/// All parameters of a model in one aligned arena, and their gradients in a second arena of the same layout.
/// Optimizers work on the two flat spans; each <see cref="Parameter"/> is a pair of tensor views into them.
/// </summary>
public sealed class ParameterStore : IReadOnlyList<Parameter>
{
    readonly AlignedBuffer _values;
    readonly AlignedBuffer _gradients;
    readonly Parameter[] _parameters;
    readonly Dictionary<string, Parameter> _byName = new(StringComparer.Ordinal);

    /// <summary>Carves the parameters of <paramref name="layout"/> out of one arena and initializes them from <paramref name="seed"/>.</summary>
    public ParameterStore(IReadOnlyList<ParameterInfo> layout, int seed)
    {
        int total = 0;
        foreach (var info in layout) total = Math.Max(total, info.Offset + info.Length);
        _values = new AlignedBuffer(total);
        _gradients = new AlignedBuffer(total);
        _parameters = new Parameter[layout.Count];
        for (int i = 0; i < layout.Count; i++)
        {
            var info = layout[i];
            var p = new Parameter(info,
                Tensor.View(_values.Array, _values.Offset + info.Offset, info.Shape),
                Tensor.View(_gradients.Array, _gradients.Offset + info.Offset, info.Shape));
            _parameters[i] = p;
            if (!_byName.TryAdd(info.Name, p)) throw new ArgumentException($"Two parameters are named '{info.Name}'.", nameof(layout));
        }
        TotalLength = total;
        foreach (var info in layout)
        {
            if (info.Trainable) TrainableLength = Math.Max(TrainableLength, info.Offset + info.Length);
        }
        foreach (var info in layout)
        {
            if (!info.Trainable && info.Offset < TrainableLength)
                throw new ArgumentException($"State '{info.Name}' lies before a trained parameter; the arena holds trained parameters first.", nameof(layout));
        }
        Initialize(seed);
    }

    /// <summary>
    /// The prefix of the arena that holds trained parameters (state such as running statistics follows it);
    /// optimizers update <see cref="TrainableValues"/> from <see cref="TrainableGradients"/>.
    /// </summary>
    public int TrainableLength { get; }

    /// <summary>The trained parameters' values: the first <see cref="TrainableLength"/> floats of the arena.</summary>
    public Span<float> TrainableValues => _values.Span.Slice(0, TrainableLength);

    /// <summary>The trained parameters' gradients: the first <see cref="TrainableLength"/> floats of the gradient arena.</summary>
    public Span<float> TrainableGradients => _gradients.Span.Slice(0, TrainableLength);

    /// <summary>The number of floats in the arena (including alignment padding between parameters).</summary>
    public int TotalLength { get; }

    /// <summary>The number of trainable scalars (without padding).</summary>
    public long ScalarCount
    {
        get
        {
            long n = 0;
            foreach (var p in _parameters) if (p.Info.Trainable) n += p.Info.Length;
            return n;
        }
    }

    /// <summary>The whole value arena.</summary>
    public Span<float> Values => _values.Span;

    /// <summary>The whole gradient arena (same layout as <see cref="Values"/>).</summary>
    public Span<float> Gradients => _gradients.Span;

    /// <summary>The number of parameters.</summary>
    public int Count => _parameters.Length;

    /// <summary>Parameter <paramref name="index"/> in arena order.</summary>
    public Parameter this[int index] => _parameters[index];

    /// <summary>The parameter with the given path name.</summary>
    public Parameter this[string name] =>
        _byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"The model has no parameter named '{name}'.");

    /// <summary>Whether a parameter has this name.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGradients() => _gradients.Span.Clear();

    /// <summary>Re-initializes every parameter from <paramref name="seed"/> with its initializer.</summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        _values.Span.Clear();
        foreach (var p in _parameters) Initializers.Fill(p.Value.Data, p.Info, rng);
    }

    /// <inheritdoc/>
    public IEnumerator<Parameter> GetEnumerator() => ((IEnumerable<Parameter>)_parameters).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>One named parameter: its value and its gradient, both views into the model's arenas.</summary>
public sealed class Parameter
{
    internal Parameter(ParameterInfo info, Tensor value, Tensor gradient)
    {
        Info = info;
        Value = value;
        Gradient = gradient;
        // Eager code (forward + Backward on the value) accumulates straight into the gradient arena; state that is
        // not trained (running statistics) takes no gradient.
        if (info.Trainable)
        {
            value.Grad = gradient;
            value.RequiresGrad = true;
        }
    }

    /// <summary>Name, shape, place and initializer.</summary>
    public ParameterInfo Info { get; }

    /// <summary>The path name, such as <c>hidden.weight</c>.</summary>
    public string Name => Info.Name;

    /// <summary>The value (writes go to the arena).</summary>
    public Tensor Value { get; }

    /// <summary>The gradient of the last training step (writes go to the gradient arena).</summary>
    public Tensor Gradient { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Tensor.FormatShape(Info.Shape)}";
}

/// <summary>The parameter initializers, seeded and deterministic.</summary>
public static class Initializers
{
    /// <summary>The standard deviation of <see cref="Init.Normal"/> when none is given: 0.02.</summary>
    public const double DefaultStd = 0.02;

    /// <summary>The bound of <see cref="Init.Uniform"/> when none is given: 0.05.</summary>
    public const double DefaultBound = 0.05;

    /// <summary>Fills <paramref name="data"/> with <paramref name="info"/>'s initializer.</summary>
    public static void Fill(Span<float> data, ParameterInfo info, Random rng)
    {
        switch (info.Init)
        {
            case Init.Zeros: data.Clear(); break;
            case Init.Ones: data.Fill(1f); break;
            case Init.HeUniform: Uniform(data, Math.Sqrt(6.0 / info.FanIn), rng); break;
            case Init.HeNormal: Normal(data, Math.Sqrt(2.0 / info.FanIn), rng); break;
            case Init.XavierUniform: Uniform(data, Math.Sqrt(6.0 / (info.FanIn + info.FanOut)), rng); break;
            case Init.XavierNormal: Normal(data, Math.Sqrt(2.0 / (info.FanIn + info.FanOut)), rng); break;
            case Init.Normal: Normal(data, info.Scale ?? DefaultStd, rng); break;
            case Init.Uniform: Uniform(data, info.Scale ?? DefaultBound, rng); break;
            case Init.LeCunNormal: Normal(data, Math.Sqrt(1.0 / info.FanIn), rng); break;
            case Init.LeCunUniform: Uniform(data, Math.Sqrt(3.0 / info.FanIn), rng); break;
            default: throw new ArgumentOutOfRangeException(nameof(info), $"Unknown initializer {info.Init} for '{info.Name}'.");
        }
    }

    /// <summary>Fills with U(-bound, bound).</summary>
    public static void Uniform(Span<float> data, double bound, Random rng)
    {
        for (int i = 0; i < data.Length; i++) data[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
    }

    /// <summary>Fills with N(0, std²) by the Box–Muller transform.</summary>
    public static void Normal(Span<float> data, double std, Random rng)
    {
        for (int i = 0; i < data.Length; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1)) * std;
            data[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < data.Length) data[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }
    }
}
