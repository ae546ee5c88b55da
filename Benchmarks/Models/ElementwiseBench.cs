using ModelGen;
using static ModelGen.Ops;

namespace ModelGen.Benchmarks;

/// <summary>
/// Elementwise work only (no GEMM): the generator fuses the forward chain into one SIMD loop and the backward chain
/// into another, so its TrainStep times the generated fused loops (plus the MSE kernel and the bias reduction).
/// </summary>
[Model]
public partial class ElementwiseBench
{
    [Parameter(1024, Init = Init.Zeros)] public partial Tensor Shift { get; }

    /// <summary>tanh(x + s) · sigmoid(x − s) + (x + s)².</summary>
    [Forward]
    public Tensor Forward([Shape(1024)] Tensor x) => Tanh(x + Shift) * Sigmoid(x - Shift) + Square(x + Shift);

    /// <summary>Mean squared error against the target.</summary>
    [Loss]
    public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}
