using System;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

internal enum OpKind
{
    /// <summary>A value that comes from outside: input, labels, target, parameter, constant.</summary>
    Source,
    /// <summary>A per-element function of same-shaped (or row/column/scalar broadcast) operands: fusable into one loop.</summary>
    Elementwise,
    /// <summary>A call into a runtime kernel (GEMM, reductions, softmax, losses).</summary>
    Kernel,
}

/// <summary>Infers a node's shape from its inputs' shapes and its attributes; returns null and an error message on a mismatch.</summary>
internal delegate Shape? ShapeRule(Node node, Shape[] inputs, out string? error);

/// <summary>
/// The backward rule: given the node and the id of its output gradient, builds (as more graph) the gradient
/// for each input, or -1 for an input that takes no gradient.
/// </summary>
internal delegate int[] BackwardRule(GradientBuilder builder, Node node, int gradOutput);

/// <summary>
/// Writes the runtime-kernel calls of a kernel op through <see cref="IEmitContext.Call"/> and <see cref="IEmitContext.Result"/>.
/// The calls are backend-neutral: each backend's emitter renders them against its own runtime (the CPU's
/// <c>Kernels</c>/<c>Gemm</c>, the GPU's <c>GpuKernels</c>, which mirror each other name for name).
/// </summary>
internal delegate void KernelEmitter(IEmitContext context, Node node);

/// <summary>One row of the op table: everything the compiler knows about an op.</summary>
internal sealed class OpDef
{
    public OpDef(string name, OpKind kind, int arity, ShapeRule shape)
    {
        Name = name;
        Kind = kind;
        Arity = arity;
        Shape = shape;
    }

    public string Name { get; }
    public OpKind Kind { get; }
    public int Arity { get; }
    public ShapeRule Shape { get; }

    /// <summary>Elementwise scalar template: {0}, {1} are the operands (float expressions).</summary>
    public string? Scalar { get; init; }

    /// <summary>Elementwise SIMD template: {0}, {1} are vectors; V stands for Vector512 or Vector256.</summary>
    public string? Vector { get; init; }

    /// <summary>
    /// Evaluates the op on constants (scalars known at build time), so that e.g. the gradient factor 1 · 0.01 is
    /// one literal rather than a loop; null for ops that are never folded.
    /// </summary>
    public Func<double[], double>? Fold { get; init; }

    /// <summary>How the backward pass of this op is built; null for ops that are never differentiated.</summary>
    public BackwardRule? Backward { get; init; }

    /// <summary>
    /// A kernel op that can apply an activation to its own output (an epilogue in the same pass, as
    /// <c>Kernels.Conv2dForward</c> does): fusion then absorbs a following ReLU, tanh or sigmoid that is the only reader
    /// of the op's output into the op's unit, and the emitter finds it with <see cref="IEmitContext.Epilogue"/>. The
    /// activation's node keeps its id and its gradient row (which reads the activation's output, the unit's output),
    /// so backward is unchanged. The op's own output is then never stored, so its Aux buffer must be a workspace of
    /// the kernel call alone (no later node may read it).
    /// </summary>
    public bool FusesActivation { get; init; }

    /// <summary>How a kernel op is emitted: its calls of runtime kernels, neutral to the backend.</summary>
    public KernelEmitter? Emit { get; init; }

    /// <summary>
    /// The runtime kernels <see cref="Emit"/> may call, by their CPU names ("Kernels.Softmax", "Gemm.Sgemm"). This is the
    /// row's column per backend: the CPU runs them from <c>ModelGen.Cpu</c>, the GPU runs the methods of the same name of
    /// <c>ModelGen.Gpu.GpuKernels</c>. The emitters refuse a call that is not listed, and a test checks that each listed
    /// kernel exists in both runtimes, so an op cannot silently lack a backend.
    /// </summary>
    public string[] Calls { get; init; } = System.Array.Empty<string>();

    /// <summary>The suffix of the variable that holds a node's Aux buffer ("probabilities": <c>t7_probabilities</c>).</summary>
    public string AuxName { get; init; } = "probabilities";

    /// <summary>The shape comment of the Aux buffer; {0} is the label of the node's first input.</summary>
    public string AuxComment { get; init; } = "softmax of {0}";
}

/// <summary>What kernel emitters can ask of the emitter: buffer names, shapes and a place to write code.</summary>
internal interface IEmitContext
{
    /// <summary>The variable holding a node's value (a Span on the CPU, an ArrayView on the GPU).</summary>
    string Buf(int node);

    /// <summary>The variable holding a node's second output.</summary>
    string Aux(int node);

    /// <summary>
    /// A scalar operand read from a node (a literal for constants): on the CPU a float (<c>d7[0]</c>), on the GPU a
    /// <c>DeviceScalar</c> over the node's buffer, so the host never reads device memory.
    /// </summary>
    string Scalar(int node);

    /// <summary>A float literal ("2f", "(-0.5f)").</summary>
    string Real(double value);

    /// <summary>Calls the runtime kernel <paramref name="kernel"/> (one of the row's <see cref="OpDef.Calls"/>) with <paramref name="arguments"/>.</summary>
    void Call(string kernel, string arguments, string comment = "");

    /// <summary>Calls a kernel that returns a float, stored as element 0 of <paramref name="node"/>'s buffer.</summary>
    void Result(int node, string kernel, string arguments);

    Shape ShapeOf(int node);

    /// <summary>The labels span.</summary>
    string Labels { get; }

    /// <summary>
    /// When the node heads a unit with a fused epilogue (a GEMM, or a kernel op with <see cref="OpDef.FusesActivation"/>):
    /// the bias node (or -1; GEMMs only) and the activation name ("None" when there is none).
    /// </summary>
    (int Bias, string Activation) Epilogue(Node node);
}

/// <summary>Builds gradient nodes; backward rules use it to write backward as more graph.</summary>
internal interface GradientBuilder
{
    Graph Graph { get; }

    /// <summary>Adds a node of an op from the table with inferred shape.</summary>
    int Op(string op, int[] inputs, Action<Node>? attributes = null);

    /// <summary>A scalar constant.</summary>
    int Const(double value);

    /// <summary>Sums <paramref name="gradient"/> down to <paramref name="shape"/> (the gradient of broadcasting), or returns it unchanged.</summary>
    int ReduceTo(int gradient, Shape shape);
}
