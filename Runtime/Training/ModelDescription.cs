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
    /// <param name="minTrainingBatch">The smallest batch the training step accepts (see <see cref="MinTrainingBatch"/>).</param>
    public ModelDescription(string name, ParameterInfo[] parameters, int[] inputShape, int[] outputShape, TargetKind target, int minTrainingBatch = 1)
    {
        if (minTrainingBatch < 1)
            throw new ArgumentOutOfRangeException(nameof(minTrainingBatch), $"The smallest training batch must be at least 1, not {minTrainingBatch}.");
        Name = name;
        Parameters = parameters;
        InputShape = inputShape;
        OutputShape = outputShape;
        Target = target;
        MinTrainingBatch = minTrainingBatch;
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
    /// <summary>
    /// The smallest batch the training step accepts: 2 when a batch normalization layer sees one value per channel per
    /// sample (BatchNorm1d, or BatchNorm2d over 1×1 positions), since batch statistics need more than one value; else 1.
    /// <c>Fit</c> leaves out a last partial batch smaller than this (and says so).
    /// </summary>
    public int MinTrainingBatch { get; }
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
