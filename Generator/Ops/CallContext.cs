using System;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

/// <summary>
/// What a lowering rule (an op call or a built-in layer's Forward) works with: the graph builder, the variant being
/// built, and node creation through the op table. Reading <see cref="Training"/> marks the graph as having training
/// and inference variants, so Infer gets a graph of its own.
/// </summary>
internal abstract class CallContext
{
    readonly bool _training;

    protected CallContext(GraphBuilder builder, bool training)
    {
        Builder = builder;
        _training = training;
    }

    public GraphBuilder Builder { get; }

    public Graph Graph => Builder.Graph;

    /// <summary>Whether this is the training graph (Dropout drops, BatchNorm uses batch statistics).</summary>
    public bool Training
    {
        get
        {
            Graph.ModeDependent = true;
            return _training;
        }
    }

    /// <summary>Adds a node of the op table.</summary>
    public int Op(string op, params int[] inputs) => Builder.Op(op, inputs);

    /// <summary>Adds a node of the op table with attributes.</summary>
    public int Op(string op, int[] inputs, Action<Node> attributes) => Builder.Op(op, inputs, attributes);
}
