using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Model;
using ModelGen.Generator.Ops;
using ModelGen.Generator.Passes;

namespace ModelGen.Generator.Emit.Gpu;

/// <summary>
/// Emits the model's GPU program (written only when the consumer references <c>ModelGen.Runtime.Gpu</c>): a nested
/// <c>GpuProgram</c> with the same steps as the CPU program over ArrayView slices of the device arenas (the same
/// memory plan), kernel ops through <c>GpuKernels</c>, and each fused elementwise unit as one generated ILGPU kernel
/// in a top-level class of kernels (ILGPU compiles them at run time, so they must be visible to it: internal, with
/// <c>InternalsVisibleTo("ILGPURuntime")</c>). That class also registers the GPU backend when the program starts.
/// </summary>
internal static class GpuProgramEmitter
{
    /// <summary>The name of the top-level class holding a model's generated kernels.</summary>
    public static string KernelClass(ClassSpec spec) =>
        Names.Identifier(string.Join("_", spec.ContainingTypes.Select(t => t.Substring(t.LastIndexOf(' ') + 1)).Concat(new[] { spec.ClassName }))) + "GpuKernels";

    /// <summary>Writes the nested program into <paramref name="w"/> (inside the model class) and returns the kernel class.</summary>
    public static CodeWriter Emit(CodeWriter w, ClassSpec spec, CompiledGraph training, CompiledGraph? inference)
    {
        var layout = new ProgramLayout(training, inference);
        var (g, steps, names) = (layout.Graph, layout.Steps, layout.Names);
        var backend = new GpuBackend(KernelClass(spec));
        var input = g[g.Input].Shape;
        var output = g[g.Output].Shape;
        int floatsPerSample = layout.FloatsPerSample, fixedFloats = layout.FixedFloats;
        int labelsPerSample = g.Labels >= 0 ? 1 : 0;
        int targetSize = g.Target >= 0 ? g[g.Target].Shape.FixedCount : 0;

        w.Line("/// <summary>Creates the compiled GPU program for batches of up to <paramref name=\"maxBatch\"/> samples.</summary>");
        w.Line("public override CompiledProgram CreateDeviceProgram(DeviceSession session, int maxBatch) => new GpuProgram((global::ModelGen.Gpu.GpuSession)session, maxBatch);");
        w.Line();
        w.Line($"/// <summary>The compiled forward and backward passes of {spec.ClassName} on a GPU: the CPU program's steps and memory plan over device memory.</summary>");
        w.Open("sealed class GpuProgram : global::ModelGen.Gpu.GpuProgram");
        w.Line("readonly int _fixed; // start of the fixed part of the activation arena");
        w.Line();
        w.Open($"public GpuProgram(global::ModelGen.Gpu.GpuSession session, int maxBatch) : base(session, maxBatch, floatsPerSample: {floatsPerSample}, fixedFloats: {fixedFloats}, inputSize: {input.FixedCount}, outputSize: {output.FixedCount}, labelsPerSample: {labelsPerSample}, targetSize: {targetSize})");
        w.Line($"_fixed = {floatsPerSample} * maxBatch;");
        w.Close();
        w.Line();

        var (inferenceSteps, inferenceNames, ig) = (layout.InferenceSteps, layout.InferenceNames, layout.InferenceGraph);

        w.Line($"/// <summary>Forward pass{(inference == null ? "" : " (inference variant)")}: input {input} → output {output}; returns the output's view.</summary>");
        w.Open("protected override ArrayView<float> RunInfer(int B)");
        foreach (var s in inferenceSteps) w.Line($"{s.Name}(B);");
        w.Line($"return {Where(backend, ig, inferenceNames, ig.Output)};");
        w.Close();
        w.Line();

        w.Line($"/// <summary>Forward pass{(inference == null ? "" : " (inference variant)")} and the loss: the loss of Evaluate and of Fit's validation; returns the loss's and the output's views.</summary>");
        w.Open("protected override (ArrayView<float> Loss, ArrayView<float> Output) RunEvaluateStep(int B)");
        if (ig.Loss < 0)
        {
            w.Line($"throw new InvalidOperationException({Names.Quote(spec.ClassName + " has no [Loss] method, so it cannot be evaluated.")});");
        }
        else
        {
            foreach (var s in layout.EvaluationSteps) w.Line($"{s.Name}(B);");
            w.Line($"return ({Where(backend, ig, inferenceNames, ig.Loss)}, {Where(backend, ig, inferenceNames, ig.Output)});");
        }
        w.Close();
        w.Line();

        w.Line("/// <summary>Forward, loss and backward: overwrites every gradient with that of the batch's mean loss; returns the loss's and the output's views.</summary>");
        w.Open("protected override (ArrayView<float> Loss, ArrayView<float> Output) RunTrainStep(int B)");
        if (g.Loss < 0)
        {
            w.Line($"throw new InvalidOperationException({Names.Quote(spec.ClassName + " has no [Loss] method, so it cannot be trained.")});");
        }
        else
        {
            foreach (var s in steps) w.Line($"{s.Name}(B);");
            foreach (var (name, offset, length) in layout.UnreachedParameters)
                w.Line($"ParameterGradients.SubView({offset}, {length}).MemSetToZero(GpuDevice.Stream); // the loss does not depend on {name}");
            w.Line($"return ({Where(backend, g, names, g.Loss)}, {Where(backend, g, names, g.Output)});");
        }
        w.Close();
        layout.WriteSteps(backend, w, spec);
        if (backend.Kernels.Count > 0)
        {
            w.Line();
            w.Line("// The generated elementwise kernels, each compiled for the device on its first launch.");
            foreach (var (name, args) in backend.Kernels)
                w.Line($"global::System.Action<AcceleratorStream, Index1D, {backend.KernelClass}.{args}>? _{GpuElementwiseEmitter.Lower(name)};");
        }
        w.Close();
        return backend.KernelCode;
    }

    /// <summary>Writes the top-level kernel class after the model class.</summary>
    public static void WriteKernelClass(CodeWriter w, ClassSpec spec, CodeWriter kernels)
    {
        w.Line();
        w.Line($"/// <summary>The GPU kernels generated for {spec.ClassName}'s fused elementwise loops, and the GPU backend's registration.</summary>");
        w.Open($"internal static class {KernelClass(spec)}");
        w.Line("/// <summary>Registers the GPU backend when the program starts (where the process can generate code at run time).</summary>");
        w.Line("[ModuleInitializer]");
        w.Line("internal static void RegisterGpuBackend() => global::ModelGen.Gpu.GpuBackend.Register();");
        w.Line();
        w.Append(kernels);
        w.Close();
    }

    /// <summary>Where a node's value is: an arena slice, or a batch buffer for the model's input and target.</summary>
    static string Where(GpuBackend backend, Graph g, BufferNames names, int node)
    {
        var n = g[node];
        return n.Op switch
        {
            "Input" => $"Input.SubView(0, {n.Shape.CountExpr()})",
            "Target" => $"Targets.SubView(0, {n.Shape.CountExpr()})",
            _ => backend.Slice(names.SlotOf(node)),
        };
    }

    /// <summary>The GPU's side of the steps: ArrayView slices of the device arenas, the uploaded batch, generated kernels.</summary>
    sealed class GpuBackend : IBackend
    {
        public GpuBackend(string kernelClass) => KernelClass = kernelClass;

        public string KernelClass { get; }

        /// <summary>The generated kernels: name and argument struct.</summary>
        public List<(string Name, string Args)> Kernels { get; } = new();

        /// <summary>Their code.</summary>
        public CodeWriter KernelCode { get; } = new();

        public string BufferType => "ArrayView<float>";

        public string Slice(Slot s) => s.Region switch
        {
            Region.Batched => $"Activations.SubView({Names.PerSample(s.Offset)}, {Names.PerSample(s.Length)})",
            Region.Fixed => $"Activations.SubView(_fixed{(s.Offset == 0 ? "" : " + " + s.Offset)}, {s.Length})",
            Region.Parameters => $"ParameterValues.SubView({s.Offset}, {s.Length})",
            _ => $"ParameterGradients.SubView({s.Offset}, {s.Length})",
        };

        public IEnumerable<string> SourceParameters(List<Node> sources, BufferNames names) => Enumerable.Empty<string>();

        public IEnumerable<string> SourceArguments(List<Node> sources) => Enumerable.Empty<string>();

        public IEnumerable<string> SourceDeclarations(List<Node> sources, BufferNames names) => sources.Select(n => n.Op switch
        {
            "Labels" => "ArrayView<int> labels = Labels.SubView(0, B); // (B) the uploaded labels",
            "Input" => $"ArrayView<float> {names.Name(n.Id)} = Input.SubView(0, {n.Shape.CountExpr()}); // {n.Shape} the uploaded input",
            _ => $"ArrayView<float> {names.Name(n.Id)} = Targets.SubView(0, {n.Shape.CountExpr()}); // {n.Shape} the uploaded targets",
        });

        public string Labels => "labels";

        public string Scalar(string buffer) => $"new DeviceScalar({buffer})";

        public string Call(string kernel, string arguments) => $"GpuKernels.{Method(kernel)}(GpuDevice, {arguments});";

        public string Result(string buffer, string kernel, string arguments) => $"GpuKernels.{Method(kernel)}(GpuDevice, {arguments}, {buffer});";

        public void Elementwise(CodeWriter w, Graph g, Unit unit, BufferNames names)
        {
            string name = "Loop" + Kernels.Count;
            Kernels.Add((name, name + "Args"));
            GpuElementwiseEmitter.Emit(w, KernelCode, name, KernelClass, g, unit, names);
        }

        /// <summary>"Kernels.Softmax" and "Gemm.Sgemm" are GpuKernels.Softmax and GpuKernels.Sgemm.</summary>
        static string Method(string kernel) => kernel.Substring(kernel.IndexOf('.') + 1);
    }
}
