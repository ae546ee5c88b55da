using System;

namespace ModelGen;

/// <summary>
/// A 2-D convolution over NCHW images: (B, in, H, W) → (B, out, Ho, Wo) with Ho = (H + 2·padding − dilation·(k − 1) − 1)/stride + 1
/// (likewise Wo). The weight is (out, in/groups, k, k), He-uniform with fan-in in/groups·k·k; the bias (out) starts
/// at zero. With groups = in = out it is a depthwise convolution. Parameters are named <c>weight</c> and <c>bias</c>.
/// </summary>
/// <remarks>Compiled, it runs as im2col + GEMM per image and group (<see cref="Cpu.Kernels.Conv2dForward"/>).</remarks>
public sealed class Conv2d : IModule
{
    /// <summary>The seed of the stand-alone initialization.</summary>
    public const int DefaultSeed = 0xC0AD;

    /// <summary>A convolution from <paramref name="inChannels"/> to <paramref name="outChannels"/> with a square window.</summary>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool bias = true)
    {
        if (inChannels <= 0) throw new ArgumentOutOfRangeException(nameof(inChannels), inChannels, "Conv2d: the number of input channels must be positive.");
        if (outChannels <= 0) throw new ArgumentOutOfRangeException(nameof(outChannels), outChannels, "Conv2d: the number of output channels must be positive.");
        if (kernelSize <= 0) throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "Conv2d: the kernel size must be positive.");
        if (stride <= 0) throw new ArgumentOutOfRangeException(nameof(stride), stride, "Conv2d: the stride must be positive.");
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), padding, "Conv2d: the padding cannot be negative.");
        if (dilation <= 0) throw new ArgumentOutOfRangeException(nameof(dilation), dilation, "Conv2d: the dilation must be positive.");
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"Conv2d: groups must divide both {inChannels} input and {outChannels} output channels.");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        Groups = groups;
        Weight = new Tensor(outChannels, inChannels / groups, kernelSize, kernelSize) { RequiresGrad = true };
        Initializers.Fill(Weight.Data, new ParameterInfo("weight", Weight.GetShape(), 0, Init.HeUniform), new Random(DefaultSeed));
        if (bias) Bias = new Tensor(outChannels) { RequiresGrad = true };
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>The window's side.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>Zeros added on each side of the image.</summary>
    public int Padding { get; }

    /// <summary>Spacing between window taps.</summary>
    public int Dilation { get; }

    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>The weight, (out, in/groups, k, k).</summary>
    public Tensor Weight { get; private set; }

    /// <summary>The bias, (out), or null without bias.</summary>
    public Tensor? Bias { get; private set; }

    /// <summary>The convolution, eagerly: (B, in, H, W) → (B, out, Ho, Wo).</summary>
    public Tensor Forward(Tensor x) => Ops.Conv2d("Conv2d", x, Weight, Bias, Stride, Padding, Dilation, Groups);

    /// <summary>Points <see cref="Weight"/> and <see cref="Bias"/> at <c>{prefix}.weight</c> and <c>{prefix}.bias</c> of <paramref name="store"/>.</summary>
    public void Bind(ParameterStore store, string prefix)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prefix);
        var weight = store[prefix + ".weight"].Value;
        Check(weight, prefix + ".weight", Weight.GetShape());
        Tensor? bias = null;
        if (Bias is not null)
        {
            bias = store[prefix + ".bias"].Value;
            Check(bias, prefix + ".bias", OutChannels);
        }
        Weight = weight;
        Bias = bias;
    }

    static void Check(Tensor tensor, string name, params int[] expected)
    {
        if (!tensor.Shape.SequenceEqual(expected))
            throw new ArgumentException($"Conv2d: parameter '{name}' has shape {Tensor.FormatShape(tensor.Shape)} but the layer needs {Tensor.FormatShape(expected)}.");
    }
}
