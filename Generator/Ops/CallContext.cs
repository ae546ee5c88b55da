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

    /// <summary>What the user called, as messages name it (e.g. "Sum", "conv.Forward(x) (Conv2d)").</summary>
    protected abstract string Subject { get; }

    /// <summary>Adds a node of the op table.</summary>
    public int Op(string op, params int[] inputs) => Op(op, inputs, null);

    /// <summary>
    /// Adds a node of the op table with attributes. A shape error names what the user called, not the op-table row
    /// it lowers to (Sum is SumAxis, a Conv2d layer with a bias is Conv2dBias).
    /// </summary>
    public int Op(string op, int[] inputs, Action<Node>? attributes)
    {
        try
        {
            return Builder.Op(op, inputs, attributes);
        }
        catch (CompileError e) when (e.Args.Length == 2 && e.Args[0] == op && op != Subject)
        {
            throw new CompileError(e.Id, Subject, e.Args[1]);
        }
    }
}
