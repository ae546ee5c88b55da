using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Model;

namespace ModelGen.Generator.Ops;

/// <summary>
/// A built-in layer of the runtime (a class of the ModelGen namespace such as <c>Linear</c>): the constructor
/// arguments the parser evaluates, the parameters they imply (names, shapes, initializers), and how a call to
/// its <c>Forward</c> becomes graph nodes.
/// </summary>
internal sealed class LayerDef
{
    public LayerDef(string name, string[] arguments, Func<LayerArgs, List<ParamSpec>> parameters, Func<LayerCall, int> forward, Func<LayerArgs, string> describe)
    {
        Name = name;
        Arguments = arguments;
        Parameters = parameters;
        Forward = forward;
        Describe = describe;
    }

    /// <summary>The runtime class name.</summary>
    public string Name { get; }

    /// <summary>Constructor parameter names; the parser stores their constant values in this order.</summary>
    public string[] Arguments { get; }

    /// <summary>The parameters of an instance; throws <see cref="LayerError"/> for arguments that make no layer.</summary>
    public Func<LayerArgs, List<ParamSpec>> Parameters { get; }

    /// <summary>Lowers a call of the layer's Forward; returns the output node.</summary>
    public Func<LayerCall, int> Forward { get; }

    /// <summary>A short description for comments in generated code, e.g. "Linear 784 → 128".</summary>
    public Func<LayerArgs, string> Describe { get; }
}

/// <summary>Invalid constructor arguments of a built-in layer (reported as MG0009 at the <c>new</c> expression).</summary>
internal sealed class LayerError : Exception
{
    public LayerError(string message) : base(message) { }
}

/// <summary>The evaluated constructor arguments of one layer instance, by name.</summary>
internal sealed class LayerArgs
{
    readonly LayerDef _def;
    readonly IReadOnlyList<double> _values;

    public LayerArgs(LayerDef def, IReadOnlyList<double> values)
    {
        _def = def;
        _values = values;
    }

    public double this[string name]
    {
        get
        {
            int i = Array.IndexOf(_def.Arguments, name);
            if (i < 0 || i >= _values.Count || double.IsNaN(_values[i])) throw new LayerError($"{_def.Name} needs a constant '{name}'");
            return _values[i];
        }
    }

    /// <summary>A positive integer argument (a size).</summary>
    public int Size(string name)
    {
        double v = this[name];
        if (v < 1 || v != Math.Floor(v) || v > int.MaxValue) throw new LayerError($"{_def.Name} needs a positive integer '{name}', got {Text(v)}");
        return (int)v;
    }

    /// <summary>A non-negative integer argument.</summary>
    public int Count(string name)
    {
        double v = this[name];
        if (v < 0 || v != Math.Floor(v) || v > int.MaxValue) throw new LayerError($"{_def.Name} needs a non-negative integer '{name}', got {Text(v)}");
        return (int)v;
    }

    public bool Flag(string name) => this[name] != 0;

    static string Text(double v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A call to a built-in layer's Forward being lowered: the instance, its arguments, inputs and parameter nodes.</summary>
internal sealed class LayerCall : CallContext
{
    readonly Func<string, int> _parameter;
    readonly IReadOnlyList<Value> _inputs;

    public LayerCall(InstanceSpec instance, LayerArgs args, IReadOnlyList<Value> inputs, string text, GraphBuilder builder, Func<string, int> parameter, bool training)
        : base(builder, training)
    {
        Instance = instance;
        Args = args;
        _inputs = inputs;
        Text = text;
        _parameter = parameter;
    }

    public InstanceSpec Instance { get; }

    public LayerArgs Args { get; }

    /// <summary>The call as source text, for messages.</summary>
    public string Text { get; }

    public int Count => _inputs.Count;

    /// <summary>Input <paramref name="i"/> as a tensor node.</summary>
    public int T(int i) => i < _inputs.Count && _inputs[i] is TensorValue t ? t.Node
        : throw new CompileError("MG0004", Text, $"argument {i + 1} must be a tensor");

    /// <summary>The node of the instance's parameter <paramref name="name"/> (e.g. "weight"), or -1 when it has none.</summary>
    public int Parameter(string name) => _parameter(name);

    public Shape ShapeOf(int node) => Graph[node].Shape;

    protected override string Subject => $"{Text} ({Instance.TypeKey})";

    /// <summary>A shape error naming the layer, as the user wrote it.</summary>
    public CompileError ShapeError(string problem) => new("MG0002", Subject, problem);

    /// <summary>A shape error where the layer's <paramref name="input"/> is not of the shape it <paramref name="expects"/>, such as "(B, …, 784)".</summary>
    public CompileError ShapeError(string problem, int input, string expects) => new("MG0002", Subject, problem) { Input = input, Expects = expects };
}

/// <summary>The built-in layers; families register in files of their own (Layers.{Family}.cs).</summary>
internal static partial class Layers
{
    static readonly Dictionary<string, LayerDef> Rows = new(StringComparer.Ordinal);

    public static bool TryGet(string name, out LayerDef def) => Rows.TryGetValue(name, out def!);

    static void Layer(LayerDef def) => Rows.Add(def.Name, def);

    static Layers()
    {
        Core();
        Convolution();
        Normalization();
        Sequence();
    }

    static partial void Convolution();
    static partial void Normalization();
    static partial void Sequence();

    static void Core()
    {
        // Linear(in, out, bias): y = x·W + b with W (in, out) He-uniform and b (out) zeros.
        Layer(new LayerDef("Linear", new[] { "inFeatures", "outFeatures", "bias" },
            a =>
            {
                var ps = new List<ParamSpec> { new("weight", EquatableArray.Of(a.Size("inFeatures"), a.Size("outFeatures")), "HeUniform") };
                if (a.Flag("bias")) ps.Add(new ParamSpec("bias", EquatableArray.Of(a.Size("outFeatures")), "Zeros"));
                return ps;
            },
            c =>
            {
                int x = c.T(0), inF = c.Args.Size("inFeatures");
                var shape = c.ShapeOf(x);
                if (shape.Rank < 1 || shape[shape.Rank - 1] != inF)
                    throw c.ShapeError($"input shape {shape} does not fit: Linear expects a last dimension of {inF}"
                        + (shape.IsBatched && shape.Rank > 2 && shape.FixedCount == inF ? $"; insert Flatten before it, which makes each sample one vector of {inF}" : ""),
                        x, $"(B, …, {inF})");
                int y = c.Op("MatMul", x, c.Parameter("weight"));
                int bias = c.Parameter("bias");
                return bias >= 0 ? c.Op("Add", y, bias) : y;
            },
            a => $"Linear {a.Size("inFeatures")} → {a.Size("outFeatures")}{(a.Flag("bias") ? "" : ", no bias")}"));
    }
}
