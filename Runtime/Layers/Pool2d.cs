using System;

namespace ModelGen;

/// <summary>
/// Max pooling over NCHW images: the maximum of each kernel × kernel window, stepping by stride (0 = kernelSize).
/// Padding is never a value (a window sees only taps inside the image). No parameters.
/// </summary>
public sealed class MaxPool2d : IModule
{
    /// <summary>Windows of kernelSize², stepping by <paramref name="stride"/> (0: the kernel size), with <paramref name="padding"/> on each side.</summary>
    public MaxPool2d(int kernelSize, int stride = 0, int padding = 0)
    {
        (KernelSize, Stride, Padding) = PoolArgs.Check("MaxPool2d", kernelSize, stride, padding);
    }

    /// <summary>The window's side.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>The border on each side.</summary>
    public int Padding { get; }

    /// <summary>Max pooling, eagerly: (B, C, H, W) → (B, C, Ho, Wo).</summary>
    public Tensor Forward(Tensor x) => Ops.Pool2d("MaxPool2d", max: true, x, KernelSize, Stride, Padding);

    /// <summary>Nothing to bind: the layer has no parameters.</summary>
    public void Bind(ParameterStore store, string prefix) { }
}

/// <summary>
/// Average pooling over NCHW images: the mean of each kernel × kernel window, stepping by stride (0 = kernelSize).
/// Padding counts as zeros (the divisor is always kernel², PyTorch's count_include_pad). No parameters.
/// </summary>
public sealed class AvgPool2d : IModule
{
    /// <summary>Windows of kernelSize², stepping by <paramref name="stride"/> (0: the kernel size), with <paramref name="padding"/> on each side.</summary>
    public AvgPool2d(int kernelSize, int stride = 0, int padding = 0)
    {
        (KernelSize, Stride, Padding) = PoolArgs.Check("AvgPool2d", kernelSize, stride, padding);
    }

    /// <summary>The window's side.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>The border on each side.</summary>
    public int Padding { get; }

    /// <summary>Average pooling, eagerly: (B, C, H, W) → (B, C, Ho, Wo).</summary>
    public Tensor Forward(Tensor x) => Ops.Pool2d("AvgPool2d", max: false, x, KernelSize, Stride, Padding);

    /// <summary>Nothing to bind: the layer has no parameters.</summary>
    public void Bind(ParameterStore store, string prefix) { }
}

static class PoolArgs
{
    public static (int, int, int) Check(string layer, int kernelSize, int stride, int padding)
    {
        if (kernelSize <= 0) throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, $"{layer}: the kernel size must be positive.");
        if (stride < 0) throw new ArgumentOutOfRangeException(nameof(stride), stride, $"{layer}: the stride cannot be negative (0 means the kernel size).");
        if (padding < 0 || padding > kernelSize / 2)
            throw new ArgumentOutOfRangeException(nameof(padding), padding, $"{layer}: the padding must be between 0 and half the kernel size.");
        return (kernelSize, stride == 0 ? kernelSize : stride, padding);
    }
}
