using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Model;
using ModelGen.Generator.Ops;
using ModelGen.Generator.Passes;

namespace ModelGen.Generator.Emit.Cpu;

/// <summary>
/// Emits the nested <c>Program</c> class: <c>Infer</c> and <c>TrainStep</c>, which check the batch, call one
/// method per layer (forward in source order, then backward in reverse), and copy the results out. Each layer
/// method declares the arena slices it touches, with a shape comment on each, and runs its fused units. The
/// caller's input, targets and labels are not copied into the arena: the layer methods that read them take the
/// caller's spans as parameters (the copy of a batch of 64 Fashion-MNIST images cost ~4 µs per step, and its
/// 200 KB second copy evicted weights and optimizer state from the 2 MB of L2).
/// </summary>
internal static class CpuProgramEmitter
{
    public static void Emit(CodeWriter w, ClassSpec spec, CompiledGraph training, CompiledGraph? inference)
    {
        var layout = new ProgramLayout(training, inference);
        var (g, plan, steps, names) = (layout.Graph, training.Plan, layout.Steps, layout.Names);
        var input = g[g.Input].Shape;
        var output = g[g.Output].Shape;
        int inputSize = input.FixedCount, outputSize = output.FixedCount;
        int floatsPerSample = layout.FloatsPerSample, fixedFloats = layout.FixedFloats;

        w.Line($"/// <summary>The compiled forward and backward passes of {spec.ClassName}.</summary>");
        w.Line($"// Memory plan: {floatsPerSample} floats per sample in the batched part of the activation arena, {fixedFloats} fixed;");
        w.Line($"// {plan.ParameterFloats} floats of parameters and as many of gradients. Nothing is allocated per step.");
        w.Open("sealed class Program : CpuProgram");
        w.Line("readonly int _fixed; // start of the fixed part of the activation arena");
        w.Line();
        w.Open($"public Program(ParameterStore parameters, int maxBatch) : base(parameters, maxBatch, floatsPerSample: {floatsPerSample}, fixedFloats: {fixedFloats})");
        w.Line($"_fixed = {floatsPerSample} * maxBatch;");
        w.Close();
        w.Line();

        // Infer: the forward half of the training program, or the inference graph's own steps.
        var (inferenceSteps, inferenceNames, ig) = (layout.InferenceSteps, layout.InferenceNames, layout.InferenceGraph);
        string outputSlot = Where(g, names, g.Output);

        w.Line($"/// <summary>Forward pass{(inference == null ? "" : " (inference variant)")}: input {input} → output {output}.</summary>");
        w.Open("public override void Infer(ReadOnlySpan<float> input, int batch, Span<float> output)");
        w.Line($"CheckBatch(batch, input.Length, {inputSize});");
        w.Line($"if (output.Length != batch * {outputSize}) throw new ArgumentException($\"Output has {{output.Length}} floats; a batch of {{batch}} needs {{batch * {outputSize}}}.\", nameof(output));");
        w.Line("int B = batch;");
        foreach (var s in inferenceSteps) w.Line($"{s.Name}({ProgramSteps.Arguments(Backend, ig, s)});");
        w.Line($"{Where(ig, inferenceNames, ig.Output)}.CopyTo(output);");
        w.Close();
        w.Line();

        // EvaluateStep: Infer's steps, then the loss on their output.
        w.Line($"/// <summary>Forward pass{(inference == null ? "" : " (inference variant)")} and the loss: the loss of Evaluate and of Fit's validation.</summary>");
        w.Open("public override float EvaluateStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output)");
        if (ig.Loss < 0)
        {
            w.Line($"throw new InvalidOperationException({Names.Quote(spec.ClassName + " has no [Loss] method, so it cannot be evaluated.")});");
        }
        else
        {
            WriteBatchChecks(w, ig, inputSize, outputSize);
            foreach (var s in layout.EvaluationSteps) w.Line($"{s.Name}({ProgramSteps.Arguments(Backend, ig, s)});");
            w.Line($"if (!output.IsEmpty) {Where(ig, inferenceNames, ig.Output)}.CopyTo(output);");
            w.Line($"return {Where(ig, inferenceNames, ig.Loss)}[0];");
        }
        w.Close();
        w.Line();

        // TrainStep
        w.Line("/// <summary>Forward, loss and backward: overwrites every gradient with that of the batch's mean loss.</summary>");
        w.Open("public override float TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output)");
        if (g.Loss < 0)
        {
            w.Line($"throw new InvalidOperationException({Names.Quote(spec.ClassName + " has no [Loss] method, so it cannot be trained.")});");
        }
        else
        {
            WriteBatchChecks(w, g, inputSize, outputSize);
            w.Line("Steps++;");
            foreach (var s in steps) w.Line($"{s.Name}({ProgramSteps.Arguments(Backend, g, s)});");
            foreach (var (name, offset, length) in layout.UnreachedParameters)
                w.Line($"Parameters.Gradients.Slice({offset}, {length}).Clear(); // the loss does not depend on {name}");
            w.Line($"if (!output.IsEmpty) {outputSlot}.CopyTo(output);");
            w.Line($"return {Where(g, names, g.Loss)}[0];");
        }
        w.Close();
        layout.WriteSteps(Backend, w, spec);
        w.Close();
    }

    /// <summary>The checks of a batch with its labels or targets (and the optional output), then <c>int B = batch;</c>.</summary>
    static void WriteBatchChecks(CodeWriter w, Graph g, int inputSize, int outputSize)
    {
        w.Line($"CheckBatch(batch, input.Length, {inputSize});");
        if (g.Labels >= 0)
            w.Line("if (labels.Length != batch) throw new ArgumentException($\"{labels.Length} labels for a batch of {batch}.\", nameof(labels));");
        if (g.Target >= 0)
            w.Line($"if (targets.Length != batch * {g[g.Target].Shape.FixedCount}) throw new ArgumentException($\"Targets have {{targets.Length}} floats; a batch of {{batch}} needs {{batch * {g[g.Target].Shape.FixedCount}}}.\", nameof(targets));");
        w.Line($"if (!output.IsEmpty && output.Length != batch * {outputSize}) throw new ArgumentException($\"Output has {{output.Length}} floats; a batch of {{batch}} needs {{batch * {outputSize}}}.\", nameof(output));");
        w.Line("int B = batch;");
    }

    static readonly CpuBackend Backend = new();

    /// <summary>Where a node's value is: an arena slice, or for the model's input and target the caller's span.</summary>
    static string Where(Graph g, BufferNames names, int node) => g[node].Op switch
    {
        "Input" => "input",
        "Target" => "targets",
        _ => Backend.Slice(names.SlotOf(node)),
    };

    /// <summary>The CPU's side of the steps: Span slices of the arenas, the caller's spans read in place, SIMD loops.</summary>
    sealed class CpuBackend : IBackend
    {
        public string BufferType => "Span<float>";

        public string Slice(Slot s) => s.Region switch
        {
            Region.Batched => $"Activations.Slice({Names.PerSample(s.Offset)}, {Names.PerSample(s.Length)})",
            Region.Fixed => $"Activations.Slice(_fixed{(s.Offset == 0 ? "" : " + " + s.Offset)}, {s.Length})",
            Region.Parameters => $"Parameters.Values.Slice({s.Offset}, {s.Length})",
            _ => $"Parameters.Gradients.Slice({s.Offset}, {s.Length})",
        };

        public IEnumerable<string> SourceParameters(List<Node> sources, BufferNames names) =>
            sources.Select(n => n.Op == "Labels" ? "ReadOnlySpan<int> labels" : $"ReadOnlySpan<float> {names.Name(n.Id)}");

        public IEnumerable<string> SourceArguments(List<Node> sources) =>
            sources.Select(n => n.Op switch { "Input" => "input", "Target" => "targets", _ => "labels" });

        public IEnumerable<string> SourceDeclarations(List<Node> sources, BufferNames names) =>
            sources.Where(n => n.Op != "Labels").Select(n => $"// {names.Name(n.Id)}: {n.Shape} the caller's {(n.Op == "Input" ? "input" : "targets")}, read in place");

        public string Labels => "labels";

        public string Scalar(string buffer) => buffer + "[0]";

        public string Call(string kernel, string arguments) => $"{kernel}({arguments});";

        public string Result(string buffer, string kernel, string arguments) => $"{buffer}[0] = {kernel}({arguments});";

        public void Elementwise(CodeWriter w, Graph g, Unit unit, BufferNames names) => CpuElementwiseEmitter.Emit(w, g, unit, names);
    }
}
