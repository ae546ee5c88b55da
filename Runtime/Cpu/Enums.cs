namespace ModelGen.Cpu;

/// <summary>An elementwise function applied to a kernel's output (the fused epilogue of <see cref="Gemm.Sgemm"/>).</summary>
public enum Activation
{
    /// <summary>The identity.</summary>
    None,
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>The hyperbolic tangent (<see cref="VMath.Tanh(float)"/>).</summary>
    Tanh,
    /// <summary>The logistic function 1 / (1 + e^-x) (<see cref="VMath.Sigmoid(float)"/>).</summary>
    Sigmoid,
}

/// <summary>The instruction-set path a CPU kernel takes; ordered from the least to the most capable.</summary>
public enum SimdLevel
{
    /// <summary>Plain scalar code; runs everywhere.</summary>
    Scalar,
    /// <summary>256-bit vectors with fused multiply-add (AVX2 + FMA3).</summary>
    Avx2,
    /// <summary>512-bit vectors (AVX-512F).</summary>
    Avx512,
}
