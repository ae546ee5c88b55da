using System;
using System.Collections.Generic;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

/// <summary>Lowers one call to a user-facing op of <c>ModelGen.Ops</c> to graph nodes; returns the result node.</summary>
internal delegate int OpCallRule(OpCall call);

/// <summary>
/// The user-facing ops: for each method of <c>ModelGen.Ops</c>, how a call becomes nodes of the op table
/// (<c>Sum(x)</c> is SumAll, <c>Sum(x, axis)</c> is SumAxis, ...). Families of ops register in files of their
/// own (OpCalls.{Family}.cs), next to their rows of the op table.
/// </summary>
internal static partial class OpCalls
{
    static readonly Dictionary<string, OpCallRule> Rules = new(StringComparer.Ordinal);

    public static bool TryGet(string name, out OpCallRule rule) => Rules.TryGetValue(name, out rule!);

    static void Call(string name, OpCallRule rule) => Rules.Add(name, rule);

    static OpCalls()
    {
        Core();
        Convolution();
        Normalization();
        Sequence();
        Losses();
    }

    static partial void Convolution();
    static partial void Normalization();
    static partial void Sequence();
    static partial void Losses();

    static void Core()
    {
        Call("MatMul", c => c.Op("MatMul", c.T(0), c.T(1)));
        foreach (var unary in new[] { "Relu", "Tanh", "Sigmoid", "Exp", "Log", "Square" })
            Call(unary, c => c.Op(unary, c.T(0)));
        Call("Softmax", c => { int x = c.T(0), axis = c.Axis(x, 1); return c.Op("Softmax", new[] { x }, n => n.Axis = axis); });
        Call("LogSoftmax", c => { int x = c.T(0), axis = c.Axis(x, 1); return c.Op("LogSoftmax", new[] { x }, n => n.Axis = axis); });
        Call("SoftmaxCrossEntropy", c => c.Op("SoftmaxCrossEntropy", c.T(0), c.Labels(1)));
        Call("MeanSquaredError", c => c.Op("MeanSquaredError", c.T(0), c.T(1)));
        Call("Sum", c => Reduce(c, "Sum"));
        Call("Mean", c => Reduce(c, "Mean"));
    }

    static int Reduce(OpCall c, string op)
    {
        if (c.Count == 1) return c.Op(op + "All", c.T(0));
        int x = c.T(0), axis = c.Axis(x, 1);
        bool keep = c.Bool(2);
        return c.Op(op + "Axis", new[] { x }, n => { n.Axis = axis; n.KeepDims = keep; });
    }
}

/// <summary>
/// One call being lowered: its arguments (tensors, numbers, labels), checked accessors for them, and the graph
/// builder. Reading <see cref="CallContext.Training"/> marks the graph as having training and inference variants.
/// </summary>
internal sealed class OpCall : CallContext
{
    readonly IReadOnlyList<Value> _args;
    readonly IReadOnlyList<string> _text;

    public OpCall(string name, IReadOnlyList<Value> args, IReadOnlyList<string> argumentText, GraphBuilder builder, bool training)
        : base(builder, training)
    {
        Name = name;
        _args = args;
        _text = argumentText;
    }

    public string Name { get; }

    public int Count => _args.Count;

    /// <summary>Argument <paramref name="i"/> as a tensor node (a number becomes a constant).</summary>
    public int T(int i) => _args[i] switch
    {
        TensorValue t => t.Node,
        NumberValue n => Builder.Const(n.Number),
        _ => throw Error(i, "must be a tensor"),
    };

    /// <summary>Argument <paramref name="i"/> as a number known at build time.</summary>
    public double Number(int i) => _args[i] is NumberValue n ? n.Number : throw Error(i, "must be a constant number");

    /// <summary>Argument <paramref name="i"/> as a constant integer.</summary>
    public int Int(int i) => _args[i] is NumberValue n && n.Number == Math.Floor(n.Number) && Math.Abs(n.Number) < int.MaxValue
        ? (int)n.Number : throw Error(i, "must be a constant integer");

    /// <summary>Argument <paramref name="i"/> as a constant flag.</summary>
    public bool Bool(int i) => Number(i) != 0;

    protected override string Subject => Name;

    /// <summary>
    /// Argument <paramref name="i"/> as an axis of <paramref name="tensor"/>, returned as an index of the full shape. Every
    /// op counts axes the same way, as [Shape] declares a sample: 0 is the first dimension after the batch (the first
    /// dimension of any tensor), and a negative axis counts from the end; the batch itself is never an axis.
    /// </summary>
    public int Axis(int tensor, int i)
    {
        var shape = Graph[tensor].Shape;
        int rank = shape.Rank - 1, axis = Int(i), a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank)
            throw new CompileError("MG0002", Name, $"axis {axis} is not a per-sample axis of {shape}: axes count the dimensions after the batch (first) one, "
                + (rank > 0 ? $"from 0 to {rank - 1}, or from -{rank} to -1 from the end" : "and it has none")) { Argument = i };
        return a + 1;
    }

    /// <summary>Argument <paramref name="i"/> as the loss's labels.</summary>
    public int Labels(int i) => _args[i] is LabelsValue l ? l.Node : throw Error(i, "must be the loss's Labels parameter");

    CompileError Error(int i, string what) =>
        new("MG0004", i < _text.Count ? _text[i] : Name, $"argument {i + 1} of {Name} {what}");
}
