using System;
using System.Linq;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

/// <summary>A shape or structure error found while building the graph, reported as a diagnostic at the current expression.</summary>
internal sealed class CompileError : Exception
{
    public CompileError(string id, params string[] args) : base(string.Join(": ", args))
    {
        Id = id;
        Args = args;
    }

    public string Id { get; }
    public string[] Args { get; }

    /// <summary>The argument of the call at fault (e.g. an axis), when it is one argument rather than the call.</summary>
    public int? Argument { get; init; }

    /// <summary>What the failing layer expects of <see cref="Input"/>, such as "(B, …, 784)"; null when not one shape.</summary>
    public string? Expects { get; init; }

    /// <summary>The node that did not fit <see cref="Expects"/>.</summary>
    public int Input { get; init; } = -1;
}

/// <summary>
/// Adds nodes to a graph through the op table: infers each node's shape by its row's rule (a mismatch is a
/// <see cref="CompileError"/> naming the op and both shapes), and materializes broadcasts that a fused loop cannot index.
/// Lowering and autodiff both build through it, so backward is just more graph.
/// </summary>
internal sealed class GraphBuilder : GradientBuilder
{
    public GraphBuilder(Graph graph) => Graph = graph;

    public Graph Graph { get; }

    /// <summary>Layer path given to new nodes.</summary>
    public string Scope { get; set; } = "";

    /// <summary>Source text given to new nodes.</summary>
    public string Label { get; set; } = "";

    /// <summary>Whether new nodes belong to the backward pass.</summary>
    public bool Backward { get; set; }

    public int Op(string op, int[] inputs, Action<Node>? attributes = null)
    {
        var def = OpTable.Get(op);
        if (inputs.Length != def.Arity) throw new InvalidOperationException($"{op} takes {def.Arity} inputs, got {inputs.Length}");
        var shapes = inputs.Select(i => Graph[i].Shape).ToArray();
        var probe = new Node(-1, op, inputs, Shape.Scalar);
        attributes?.Invoke(probe);
        var shape = def.Shape(probe, shapes, out var error);
        if (shape == null) throw new CompileError("MG0002", op, error ?? "shapes do not fit");
        if (def.Fold != null && inputs.All(i => Graph[i].Op == "Const"))
            return Const(def.Fold(inputs.Select(i => Graph[i].Value).ToArray()));
        if (def.Kind == OpKind.Elementwise && def.Arity == 2)
        {
            for (int i = 0; i < 2; i++)
            {
                if (Broadcasting.Classify(shapes[i], shape) == Access.Other)
                {
                    var target = shape;
                    inputs[i] = Op("BroadcastTo", new[] { inputs[i] }, x => x.Like = target);
                }
            }
        }
        var node = Graph.Add(op, inputs, shape);
        attributes?.Invoke(node);
        node.Aux = probe.Aux;
        node.Scope = Scope;
        node.Label = Label;
        node.IsBackward = Backward;
        return node.Id;
    }

    public int Const(double value)
    {
        var node = Graph.Add("Const", Array.Empty<int>(), Shape.Scalar);
        node.Value = value;
        node.Label = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        node.Scope = Scope;
        node.IsBackward = Backward;
        return node.Id;
    }

    public int Source(string op, Shape shape, string name)
    {
        var node = Graph.Add(op, Array.Empty<int>(), shape);
        node.Name = name;
        node.Label = name;
        return node.Id;
    }

    public int ReduceTo(int gradient, Shape shape)
    {
        if (Graph[gradient].Shape.Equals(shape)) return gradient;
        return Op("ReduceTo", new[] { gradient }, x => x.Like = shape);
    }
}
