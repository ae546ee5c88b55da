using System;

namespace ModelGen;

/// <summary>What the generator knows about a model, handed to <see cref="ModelBase"/> by the generated constructor.</summary>
public sealed class ModelDescription
{
    /// <summary>Describes a compiled model.</summary>
    /// <param name="name">The model class name.</param>
    /// <param name="parameters">Every parameter in arena order.</param>
    /// <param name="inputShape">The per-sample input shape (without the batch dimension).</param>
    /// <param name="outputShape">The per-sample output shape of the forward pass.</param>
    /// <param name="target">What the loss compares the output with.</param>
    public ModelDescription(string name, ParameterInfo[] parameters, int[] inputShape, int[] outputShape, TargetKind target)
    {
        Name = name;
        Parameters = parameters;
        InputShape = inputShape;
        OutputShape = outputShape;
        Target = target;
    }

    /// <summary>The model class name.</summary>
    public string Name { get; }
    /// <summary>Every parameter in arena order.</summary>
    public ParameterInfo[] Parameters { get; }
    /// <summary>The per-sample input shape.</summary>
    public int[] InputShape { get; }
    /// <summary>The per-sample output shape.</summary>
    public int[] OutputShape { get; }
    /// <summary>What the loss compares the output with.</summary>
    public TargetKind Target { get; }
}

/// <summary>The kind of target a model's loss takes.</summary>
public enum TargetKind
{
    /// <summary>The model has no <c>[Loss]</c> method: it can predict but not train.</summary>
    None,
    /// <summary>Integer class labels (<see cref="Labels"/>), one per sample.</summary>
    Labels,
    /// <summary>A float tensor of the output's shape (regression).</summary>
    Tensor,
}
