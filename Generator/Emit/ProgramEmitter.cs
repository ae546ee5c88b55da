using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Model;
using ModelGen.Generator.Ops;
using ModelGen.Generator.Passes;

namespace ModelGen.Generator.Emit;

/// <summary>
/// Emits the nested <c>Program</c> class: <c>Infer</c> and <c>TrainStep</c>, which check the batch, call one
/// method per layer (forward in source order, then backward in reverse), and copy the results out. Each layer
/// method declares the arena slices it touches, with a shape comment on each, and runs its fused units. The
/// caller's input, targets and labels are not copied into the arena: the layer methods that read them take the
/// caller's spans as parameters (the copy of a batch of 64 Fashion-MNIST images cost ~4 µs per step, and its
/// 200 KB second copy evicted weights and optimizer state from the 2 MB of L2).
/// </summary>
internal static class ProgramEmitter
{
    /// <summary>Consecutive units of one layer and direction: one generated method.</summary>
    sealed class Step
    {
        public string Scope = "";
        public bool Backward;
        public string Name = "";
        public List<Unit> Units { get; } = new();
    }

    public static void Emit(CodeWriter w, ClassSpec spec, CompiledGraph training, CompiledGraph? inference)
    {
        var (g, units, plan) = (training.Graph, training.Units, training.Plan);
        var steps = Group(g, units, "Forward");
        var names = new BufferNames(g, plan);
        var input = g[g.Input].Shape;
        var output = g[g.Output].Shape;
        int inputSize = input.FixedCount, outputSize = output.FixedCount;
        int floatsPerSample = Math.Max(plan.FloatsPerSample, inference?.Plan.FloatsPerSample ?? 0);
        int fixedFloats = Math.Max(plan.FixedFloats, inference?.Plan.FixedFloats ?? 0);

        w.Line($"/// <summary>The compiled forward and backward passes of {spec.ClassName}.</summary>");
        w.Line($"// Memory plan: {floatsPerSample} floats per sample in the batched part of the activation arena, {fixedFloats} fixed;");
        w.Line($"// {plan.ParameterFloats} floats of parameters and as many of gradients. Nothing is allocated per step.");
        w.Open("sealed class Program : CompiledProgram");
        w.Line("readonly int _fixed; // start of the fixed part of the activation arena");
        bool hasLabels = g.Labels >= 0;
        w.Line();
        w.Open($"public Program(ParameterStore parameters, int maxBatch) : base(parameters, maxBatch, floatsPerSample: {floatsPerSample}, fixedFloats: {fixedFloats})");
        w.Line($"_fixed = {floatsPerSample} * maxBatch;");
        w.Close();
        w.Line();

        // Infer: the forward half of the training program, or the inference graph's own steps.
        var inferenceSteps = inference == null
            ? steps.Where(s => !s.Backward && s.Scope != "loss").ToList()
            : Group(inference.Graph, inference.Units, "Inference");
        var inferenceNames = inference == null ? names : new BufferNames(inference.Graph, inference.Plan);
        var ig = inference?.Graph ?? g;
        string outputSlot = names.Slice(g.Output);

        w.Line($"/// <summary>Forward pass{(inference == null ? "" : " (inference variant)")}: input {input} → output {output}.</summary>");
        w.Open("public override void Infer(ReadOnlySpan<float> input, int batch, Span<float> output)");
        w.Line($"CheckBatch(batch, input.Length, {inputSize});");
        w.Line($"if (output.Length != batch * {outputSize}) throw new ArgumentException($\"Output has {{output.Length}} floats; a batch of {{batch}} needs {{batch * {outputSize}}}.\", nameof(output));");
        w.Line("int B = batch;");
        foreach (var s in inferenceSteps) w.Line($"{s.Name}({Arguments(ig, s)});");
        w.Line($"{inferenceNames.Slice(ig.Output)}.CopyTo(output);");
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
            w.Line($"CheckBatch(batch, input.Length, {inputSize});");
            if (hasLabels)
                w.Line("if (labels.Length != batch) throw new ArgumentException($\"{labels.Length} labels for a batch of {batch}.\", nameof(labels));");
            if (g.Target >= 0)
                w.Line($"if (targets.Length != batch * {g[g.Target].Shape.FixedCount}) throw new ArgumentException($\"Targets have {{targets.Length}} floats; a batch of {{batch}} needs {{batch * {g[g.Target].Shape.FixedCount}}}.\", nameof(targets));");
            w.Line($"if (!output.IsEmpty && output.Length != batch * {outputSize}) throw new ArgumentException($\"Output has {{output.Length}} floats; a batch of {{batch}} needs {{batch * {outputSize}}}.\", nameof(output));");
            w.Line("int B = batch;");
            w.Line("Steps++;");
            foreach (var s in steps) w.Line($"{s.Name}({Arguments(g, s)});");
            foreach (var (name, grad) in g.Gradients.Where(kv => kv.Value < 0).Select(kv => (kv.Key, kv.Value)))
            {
                var layout = plan.ParameterLayout.First(p => p.Name == name);
                w.Line($"Parameters.Gradients.Slice({layout.Offset}, {layout.Length}).Clear(); // the loss does not depend on {name}");
            }
            w.Line($"if (!output.IsEmpty) {outputSlot}.CopyTo(output);");
            w.Line($"return {names.Slice(g.Loss)}[0];");
        }
        w.Close();

        foreach (var step in steps)
        {
            w.Line();
            WriteStep(w, spec, g, plan, names, step);
        }
        if (inference != null)
        {
            foreach (var step in inferenceSteps)
            {
                w.Line();
                WriteStep(w, spec, inference.Graph, inference.Plan, inferenceNames, step);
            }
        }
        w.Close();
    }

    static List<Step> Group(Graph g, List<Unit> units, string forward)
    {
        var steps = new List<Step>();
        var used = new Dictionary<string, int>(StringComparer.Ordinal);
        // An activation fused into a layer's GEMM epilogue runs in that layer's forward method, so the gradient of
        // the activation (which reads the GEMM's output) goes to that layer's backward method: one pair per layer.
        // Likewise an activation the model body applies straight to a layer's output (Relu(conv1.Forward(x))) runs in
        // that layer's forward method, and its gradient in that layer's backward method.
        var epilogueScope = new Dictionary<int, string>();
        var producer = new Dictionary<int, Unit>();
        foreach (var unit in units) foreach (int id in unit.Outputs) producer[id] = unit;
        foreach (var unit in units)
        {
            if (unit.HasEpilogue && unit.Activation != "None") epilogueScope[unit.Last] = g[unit.Nodes[0]].Scope;
            if (unit.Kind == UnitKind.Elementwise && !g[unit.Last].IsBackward && g[unit.Last].Scope.Length == 0
                && unit.Nodes.All(id => Activations.Contains(g[id].Op)) && unit.Inputs.Count(i => g[i].Op != "Const") == 1
                && producer.TryGetValue(unit.Inputs.First(i => g[i].Op != "Const"), out var layer)
                && g[layer.Nodes[0]].Scope is { Length: > 0 } layerScope && layerScope != "loss")
            {
                // Gradients of ReLU, tanh and sigmoid read the activation's output, the others its input (the layer's output).
                foreach (int id in unit.Nodes) epilogueScope[id] = layerScope;
                epilogueScope[layer.Last] = layerScope;
            }
        }
        foreach (var unit in units)
        {
            var first = g[unit.Nodes[0]];
            string scope = first.Scope;
            bool backward = first.IsBackward;
            if (!backward && epilogueScope.TryGetValue(unit.Last, out var forwardLayer)) scope = forwardLayer;
            if (backward && unit.Kind == UnitKind.Elementwise)
            {
                foreach (int id in unit.Nodes)
                    if (g[id].Op.EndsWith("Grad", StringComparison.Ordinal) && Activations.Contains(g[id].Op.Substring(0, g[id].Op.Length - 4))
                        && g[id].Inputs.Length > 0 && epilogueScope.TryGetValue(g[id].Inputs[0], out var layer)) scope = layer;
            }
            var last = steps.Count > 0 ? steps[steps.Count - 1] : null;
            if (last == null || last.Scope != scope || last.Backward != backward)
            {
                // Steps of the model body are named after what they compute (ReluForward, FlattenBackward, ...).
                string what = scope.Length > 0 ? Names.Pascal(scope) : BodyName(g[unit.Last].Op);
                string name = what + (backward ? "Backward" : forward);
                used[name] = used.TryGetValue(name, out int n) ? n + 1 : 1;
                if (used[name] > 1) name += used[name];
                last = new Step { Scope = scope, Backward = backward, Name = name };
                steps.Add(last);
            }
            last.Units.Add(unit);
        }
        return steps;
    }

    /// <summary>
    /// The sources a step reads (the model's input, the loss's target tensor or labels), in that order: they are not
    /// in the activation arena, so the step's method takes them from Infer or TrainStep as parameters.
    /// </summary>
    static List<Node> Sources(Graph g, Step step) =>
        step.Units.SelectMany(u => u.Inputs).Distinct().Select(id => g[id])
            .Where(n => n.Op is "Input" or "Target" or "Labels").OrderBy(n => n.Op switch { "Input" => 0, "Target" => 1, _ => 2 }).ToList();

    /// <summary>The arguments of a call of a step's method: B, then the caller's spans of the sources it reads.</summary>
    static string Arguments(Graph g, Step step) =>
        string.Join(", ", new[] { "B" }.Concat(Sources(g, step).Select(n => n.Op switch { "Input" => "input", "Target" => "targets", _ => "labels" })));

    /// <summary>Elementwise activations, whose gradient rows are named {Op}Grad and take the activation's output or input first.</summary>
    static readonly HashSet<string> Activations = new(StringComparer.Ordinal) { "Relu", "Tanh", "Sigmoid", "Gelu", "Silu", "LeakyRelu" };

    static string BodyName(string op) => op.EndsWith("Grad", StringComparison.Ordinal) ? op.Substring(0, op.Length - 4) : op;

    static void WriteStep(CodeWriter w, ClassSpec spec, Graph g, MemoryPlan plan, BufferNames names, Step step)
    {
        string what = step.Scope == "loss" ? "the loss" : step.Scope.Length == 0 ? "the model body" : $"{step.Scope} ({Describe(spec, step.Scope)})";
        w.Line($"/// <summary>{(step.Backward ? "Backward pass" : step.Name.EndsWith("Inference", StringComparison.Ordinal) ? "Inference pass" : "Forward pass")} of {Names.Comment(what)}.</summary>");
        var sources = Sources(g, step);
        var parameters = sources.Select(n => n.Op == "Labels" ? "ReadOnlySpan<int> labels" : $"ReadOnlySpan<float> {names.Name(n.Id)}");
        w.Open($"void {step.Name}({string.Join(", ", new[] { "int B" }.Concat(parameters))})");
        foreach (var n in sources.Where(n => n.Op != "Labels"))
            w.Line($"// {names.Name(n.Id)}: {n.Shape} the caller's {(n.Op == "Input" ? "input" : "targets")}, read in place");

        // The slices this step touches, in order of first use.
        var touched = new List<int>();
        foreach (var unit in step.Units)
        {
            foreach (int id in unit.Inputs.Concat(unit.Outputs))
            {
                var n = g[id];
                if (n.Op is "Const" or "Input" or "Target" or "Labels" || touched.Contains(id)) continue;
                touched.Add(id);
            }
        }
        // The units first, into a writer of their own, so that only the second buffers (workspaces, saved
        // statistics) the emitted code names get declared.
        var body = new CodeWriter();
        var context = new EmitContext(body, g, names);
        foreach (var unit in step.Units)
        {
            body.Line();
            context.Unit = unit;
            switch (unit.Kind)
            {
                case UnitKind.Elementwise:
                    ElementwiseEmitter.Emit(body, g, unit, names);
                    break;
                case UnitKind.Gemm:
                    {
                        var m = g[unit.Nodes[0]];
                        string epilogue = (unit.Bias >= 0 ? " + bias" : "") + (unit.Activation != "None" ? ", " + unit.Activation : "");
                        body.Line($"// {Names.Comment(g[unit.Last].Label)}: {g[m.Inputs[0]].Shape}{(m.TransA ? "ᵀ" : "")} · {g[m.Inputs[1]].Shape}{(m.TransB ? "ᵀ" : "")}{epilogue} → {g[unit.Last].Shape}");
                        OpTable.Get(m.Op).Emit!(context, m);
                        break;
                    }
                default:
                    {
                        var n = g[unit.Nodes[0]];
                        string fused = unit.Activation != "None" ? ", " + unit.Activation : "";
                        body.Line($"// {Names.Comment(Describe(g, unit.Nodes.Count > 1 ? g[unit.Last] : n))}: {n.Op}{fused} → {n.Shape}");
                        OpTable.Get(n.Op).Emit!(context, n);
                        break;
                    }
            }
        }

        foreach (int id in touched)
        {
            var n = g[id];
            w.Line($"Span<float> {names.Name(id)} = {names.Slice(id)}; // {n.Shape} {Names.Comment(Describe(g, n))}");
            if (plan.AuxSlots.ContainsKey(id) && context.AuxUsed.Contains(id))
            {
                var def = OpTable.Get(n.Op);
                w.Line($"Span<float> {names.Name(id)}_{def.AuxName} = {names.AuxSlice(id)}; // {n.Aux} {Names.Comment(string.Format(def.AuxComment, g[n.Inputs[0]].Label))}");
            }
        }
        // Second buffers of nodes the step stores nothing of (a convolution whose unit's one buffer is its fused activation's).
        foreach (int id in context.AuxUsed)
        {
            if (touched.Contains(id) || !plan.AuxSlots.ContainsKey(id)) continue;
            var n = g[id];
            var def = OpTable.Get(n.Op);
            w.Line($"Span<float> {names.Name(id)}_{def.AuxName} = {names.AuxSlice(id)}; // {n.Aux} {Names.Comment(string.Format(def.AuxComment, g[n.Inputs[0]].Label))}");
        }
        w.Append(body);
        w.Close();
    }

    static string Describe(Graph g, Node n) => n.Op switch
    {
        "Input" => "input " + n.Name,
        "Target" => "target " + n.Name,
        "Parameter" => n.Name!,
        _ => n.Label,
    };

    static string Describe(ClassSpec spec, string path)
    {
        InstanceSpec? Find(InstanceSpec i)
        {
            if (i.Path == path) return i;
            foreach (var f in i.Fields) foreach (var item in f.Items) if (Find(item) is { } found) return found;
            return null;
        }
        var instance = spec.Root == null ? null : Find(spec.Root);
        if (instance == null) return "?";
        if (Layers.TryGet(instance.TypeKey, out var layer)) return layer.Describe(new LayerArgs(layer, instance.Args.ToArray()));
        return instance.TypeKey.Substring(instance.TypeKey.LastIndexOf('.') + 1);
    }

    /// <summary>What op-table kernel emitters may ask while a unit is emitted.</summary>
    sealed class EmitContext : IEmitContext
    {
        readonly CodeWriter _w;
        readonly Graph _g;
        readonly BufferNames _names;

        public EmitContext(CodeWriter w, Graph g, BufferNames names)
        {
            _w = w;
            _g = g;
            _names = names;
        }

        public Unit Unit { get; set; } = null!;

        public string Buf(int node) => Unit.HasEpilogue && Unit.Nodes.Contains(node) ? _names.Name(Unit.Last) : _names.Name(node);

        /// <summary>Nodes whose second buffer the emitted code named.</summary>
        public HashSet<int> AuxUsed { get; } = new();

        public string Aux(int node)
        {
            AuxUsed.Add(node);
            return _names.Name(node) + "_" + OpTable.Get(_g[node].Op).AuxName;
        }

        public string Scalar(int node) => _g[node].Op == "Const" ? Names.Float(_g[node].Value) : _names.Name(node) + "[0]";

        public Shape ShapeOf(int node) => _g[node].Shape;

        public string Labels => "labels";

        public (int Bias, string Activation) Epilogue(Node node) =>
            Unit.HasEpilogue && Unit.Nodes[0] == node.Id ? (Unit.Bias, Unit.Activation) : (-1, "None");

        public void Line(string code) => _w.Line(code);
    }
}

/// <summary>Variable names and arena slices of the values a program stores.</summary>
internal sealed class BufferNames
{
    readonly Graph _g;
    readonly MemoryPlan _plan;
    readonly Dictionary<int, string> _gradientOf = new();

    public BufferNames(Graph g, MemoryPlan plan)
    {
        _g = g;
        _plan = plan;
        foreach (var kv in g.Gradients) if (kv.Value >= 0) _gradientOf[kv.Value] = kv.Key;
    }

    public string Name(int node)
    {
        var n = _g[node];
        if (_gradientOf.TryGetValue(node, out var param)) return "d_" + Names.Identifier(param);
        // The loss's target may be named like the forward's input (Forward(Tensor x), Loss(Tensor y, Tensor x)).
        if (n.Op == "Target" && _g.Input >= 0 && _g[_g.Input].Name == n.Name) return Unreserved(Names.Identifier(n.Name!)) + "_target";
        return n.Op switch
        {
            "Input" or "Target" or "Parameter" => Unreserved(Names.Identifier(n.Name!)),
            _ => (n.IsBackward ? "d" : "t") + node,
        };
    }

    /// <summary>Locals of generated methods (the batch size B, loop counters, temporaries such as t7 or v12).</summary>
    static readonly System.Text.RegularExpressions.Regex Generated = new(@"^([tdvaxyks]|col)\d+$|^(B|n|i|r|c|row|rows|cols|labels)$");

    /// <summary>A user's name that would shadow a generated local (a parameter named B, say) gets a trailing underscore.</summary>
    static string Unreserved(string name) => Generated.IsMatch(name) ? name + "_" : name;

    /// <summary>Where a node's value is: an arena slice, or for the model's input and target the caller's span.</summary>
    public string Slice(int node) => _g[node].Op switch
    {
        "Input" => "input",
        "Target" => "targets",
        _ => SliceOf(_plan.Slots[node]),
    };

    public string AuxSlice(int node) => SliceOf(_plan.AuxSlots[node]);

    static string SliceOf(Slot s) => s.Region switch
    {
        Region.Batched => $"Activations.Slice({Names.PerSample(s.Offset)}, {Names.PerSample(s.Length)})",
        Region.Fixed => $"Activations.Slice(_fixed{(s.Offset == 0 ? "" : " + " + s.Offset)}, {s.Length})",
        Region.Parameters => $"Parameters.Values.Slice({s.Offset}, {s.Length})",
        _ => $"Parameters.Gradients.Slice({s.Offset}, {s.Length})",
    };
}
