using System.Collections.Generic;

namespace ModelGen.Generator.Ir;

/// <summary>One value in the graph: an op applied to earlier nodes, with its static shape.</summary>
internal sealed class Node
{
    public Node(int id, string op, int[] inputs, Shape shape)
    {
        Id = id;
        Op = op;
        Inputs = inputs;
        Shape = shape;
    }

    public int Id { get; }
    public string Op { get; }
    public int[] Inputs { get; }
    public Shape Shape { get; set; }

    /// <summary>Op attributes: axis, flags, a constant's value, a parameter's name.</summary>
    public int Axis { get; set; }
    public bool KeepDims { get; set; }
    public bool TransA { get; set; }
    public bool TransB { get; set; }
    public double Value { get; set; }
    public string? Name { get; set; }

    /// <summary>Integer attributes of ops that need more than an axis (kernel size, stride, padding, dilation, groups, ...).</summary>
    public int[] Ints { get; set; } = System.Array.Empty<int>();

    /// <summary>Real attributes (a dropout probability, an epsilon, a momentum, ...).</summary>
    public double[] Reals { get; set; } = System.Array.Empty<double>();

    /// <summary>The target shape of broadcasts and of reductions back to an operand's shape.</summary>
    public Shape? Like { get; set; }

    /// <summary>A second output buffer (softmax probabilities kept by the fused softmax cross-entropy).</summary>
    public Shape? Aux { get; set; }

    /// <summary>The source expression this node computes, for comments in generated code.</summary>
    public string Label { get; set; } = "";

    /// <summary>The layer path this node belongs to ("hidden", "blocks.2.fc1"; empty for the model body).</summary>
    public string Scope { get; set; } = "";

    /// <summary>For a parameter: whether it is trained (false for state such as running statistics).</summary>
    public bool Trainable { get; set; } = true;

    /// <summary>True for nodes made by autodiff.</summary>
    public bool IsBackward { get; set; }

    public override string ToString() => $"%{Id} = {Op}({string.Join(", ", Inputs)}) : {Shape}";
}

/// <summary>A model's computation: nodes in topological order, plus the values the program must produce.</summary>
internal sealed class Graph
{
    public List<Node> Nodes { get; } = new();

    public Node this[int id] => Nodes[id];

    public int Input { get; set; } = -1;
    public int Labels { get; set; } = -1;
    public int Target { get; set; } = -1;
    public int Output { get; set; } = -1;
    public int Loss { get; set; } = -1;

    /// <summary>True when an op or layer has training and inference variants (Dropout, BatchNorm): Infer then gets a graph of its own.</summary>
    public bool ModeDependent { get; set; }

    /// <summary>Nodes run for their side effect (updating running statistics): always computed by a training step.</summary>
    public List<int> Effects { get; } = new();

    /// <summary>Parameter nodes by name, in arena order.</summary>
    public List<(string Name, int Node)> Parameters { get; } = new();

    /// <summary>The gradient node of each parameter (filled by autodiff); -1 when the loss does not depend on it.</summary>
    public Dictionary<string, int> Gradients { get; } = new();

    public Node Add(string op, int[] inputs, Shape shape)
    {
        var node = new Node(Nodes.Count, op, inputs, shape);
        Nodes.Add(node);
        return node;
    }
}
