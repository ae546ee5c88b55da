using System;

namespace ModelGen;

// CONTRACT STUB (owner: eager helper).
/// <summary>
/// A fully connected layer: y = x·W + b with W of shape (in, out) (He-uniform) and b of shape (out) (zeros).
/// Its parameters are named <c>weight</c> and <c>bias</c> under the field's path.
/// </summary>
public sealed class Linear : IModule
{
    /// <summary>A layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true) => throw new NotImplementedException();
    /// <summary>Input features.</summary>
    public int InFeatures { get; }
    /// <summary>Output features.</summary>
    public int OutFeatures { get; }
    /// <summary>The weight, shape (in, out).</summary>
    public Tensor Weight { get; private set; } = null!;
    /// <summary>The bias, shape (out), or null without bias.</summary>
    public Tensor? Bias { get; private set; }
    /// <summary>x·W + b.</summary>
    public Tensor Forward(Tensor x) => throw new NotImplementedException();
    /// <inheritdoc/>
    public void Bind(ParameterStore store, string prefix) => throw new NotImplementedException();
}
