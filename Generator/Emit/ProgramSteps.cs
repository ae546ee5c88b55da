using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Model;
using ModelGen.Generator.Ops;
using ModelGen.Generator.Passes;

namespace ModelGen.Generator.Emit;

/// <summary>
/// What one backend's program emitter decides; the rest of a program (its steps, their buffers, the kernel calls of
/// the op table) is written once by <see cref="ProgramSteps"/> for every backend.
/// </summary>
internal interface IBackend
{
    /// <summary>The type of a buffer variable ("Span&lt;float&gt;", "ArrayView&lt;float&gt;").</summary>
    string BufferType { get; }

    /// <summary>An arena slice as an expression of the program's members.</summary>
    string Slice(Slot slot);

    /// <summary>The parameters a step's method takes for the sources it reads (the model's input, targets, labels).</summary>
    IEnumerable<string> SourceParameters(List<Node> sources, BufferNames names);

    /// <summary>The arguments Infer and TrainStep pass for those sources.</summary>
    IEnumerable<string> SourceArguments(List<Node> sources);

    /// <summary>The declaration lines of a step's sources (a comment on the CPU, where they are the caller's spans).</summary>
    IEnumerable<string> SourceDeclarations(List<Node> sources, BufferNames names);

    /// <summary>The variable holding the labels inside a step.</summary>
    string Labels { get; }

    /// <summary>A scalar kernel operand read from a node's one-element buffer.</summary>
    string Scalar(string buffer);

    /// <summary>A statement calling a runtime kernel, by its CPU name ("Kernels.Softmax").</summary>
    string Call(string kernel, string arguments);

    /// <summary>A statement calling a kernel whose float result goes to element 0 of <paramref name="buffer"/>.</summary>
    string Result(string buffer, string kernel, string arguments);

    /// <summary>Writes one fused elementwise unit.</summary>
    void Elementwise(CodeWriter w, Graph g, Unit unit, BufferNames names);
}

/// <summary>
/// What every backend's program is made of: the training graph's steps and buffer names, the evaluation steps (the
/// forward and loss half of training, or the inference graph's own when Dropout or BatchNorm make them differ) and
/// the inference steps among them (all but the loss's), the arena sizes (the larger of the two plans), and the
/// parameters the loss does not reach.
/// </summary>
internal sealed class ProgramLayout
{
    public ProgramLayout(CompiledGraph training, CompiledGraph? inference)
    {
        Training = training;
        Inference = inference;
        Steps = ProgramSteps.Group(training.Graph, training.Units, "Forward");
        Names = new BufferNames(training.Graph, training.Plan);
        EvaluationSteps = inference == null
            ? Steps.Where(s => !s.Backward).ToList()
            : ProgramSteps.Group(inference.Graph, inference.Units, "Inference");
        InferenceSteps = EvaluationSteps.Where(s => s.Scope != "loss").ToList();
        InferenceNames = inference == null ? Names : new BufferNames(inference.Graph, inference.Plan);
        FloatsPerSample = Math.Max(training.Plan.FloatsPerSample, inference?.Plan.FloatsPerSample ?? 0);
        FixedFloats = Math.Max(training.Plan.FixedFloats, inference?.Plan.FixedFloats ?? 0);
    }

    public CompiledGraph Training { get; }
    public CompiledGraph? Inference { get; }
    public Graph Graph => Training.Graph;
    public List<Step> Steps { get; }
    public BufferNames Names { get; }
    /// <summary>Infer's steps: the forward pass of inference.</summary>
    public List<Step> InferenceSteps { get; }
    /// <summary>EvaluateStep's steps: Infer's, then the loss on its output.</summary>
    public List<Step> EvaluationSteps { get; }
    public BufferNames InferenceNames { get; }
    public Graph InferenceGraph => Inference?.Graph ?? Training.Graph;
    public int FloatsPerSample { get; }
    public int FixedFloats { get; }

    /// <summary>The parameters whose gradient the loss does not reach (the step clears them): name, offset, length.</summary>
    public IEnumerable<(string Name, int Offset, int Length)> UnreachedParameters =>
        Graph.Gradients.Where(kv => kv.Value < 0).Select(kv => Training.Plan.ParameterLayout.First(p => p.Name == kv.Key)).Select(p => (p.Name, p.Offset, p.Length));

    /// <summary>Writes every step method: training, then the inference graph's own.</summary>
    public void WriteSteps(IBackend backend, CodeWriter w, ClassSpec spec)
    {
        foreach (var step in Steps)
        {
            w.Line();
            ProgramSteps.Write(backend, w, spec, Graph, Training.Plan, Names, step);
        }
        if (Inference == null) return;
        foreach (var step in EvaluationSteps)
        {
            w.Line();
            ProgramSteps.Write(backend, w, spec, Inference.Graph, Inference.Plan, InferenceNames, step);
        }
    }
}

/// <summary>Consecutive units of one layer and direction: one generated method.</summary>
internal sealed class Step
{
    public string Scope = "";
    public bool Backward;
    public string Name = "";
    public List<Unit> Units { get; } = new();
}

/// <summary>
/// The steps of a program (one method per layer and direction: forward in source order, backward in reverse) and
/// the code of each, written for any backend: each step declares the buffers it touches with a shape comment and runs
/// its units: elementwise loops through the backend, GEMMs and kernel ops through the op table's neutral calls.
/// </summary>
internal static class ProgramSteps
{
    public static List<Step> Group(Graph g, List<Unit> units, string forward)
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
    public static List<Node> Sources(Graph g, Step step) =>
        step.Units.SelectMany(u => u.Inputs).Distinct().Select(id => g[id])
            .Where(n => n.Op is "Input" or "Target" or "Labels").OrderBy(n => n.Op switch { "Input" => 0, "Target" => 1, _ => 2 }).ToList();

    /// <summary>The arguments of a call of a step's method: B, then what the backend passes for the sources.</summary>
    public static string Arguments(IBackend backend, Graph g, Step step) =>
        string.Join(", ", new[] { "B" }.Concat(backend.SourceArguments(Sources(g, step))));

    /// <summary>Elementwise activations, whose gradient rows are named {Op}Grad and take the activation's output or input first.</summary>
    static readonly HashSet<string> Activations = new(StringComparer.Ordinal) { "Relu", "Tanh", "Sigmoid", "Gelu", "Silu", "LeakyRelu" };

    static string BodyName(string op) => op.EndsWith("Grad", StringComparison.Ordinal) ? op.Substring(0, op.Length - 4) : op;

    public static void Write(IBackend backend, CodeWriter w, ClassSpec spec, Graph g, MemoryPlan plan, BufferNames names, Step step)
    {
        string what = step.Scope == "loss" ? "the loss" : step.Scope.Length == 0 ? "the model body" : $"{step.Scope} ({Describe(spec, step.Scope)})";
        w.Line($"/// <summary>{(step.Backward ? "Backward pass" : step.Name.EndsWith("Inference", StringComparison.Ordinal) ? "Inference pass" : "Forward pass")} of {Names.Comment(what)}.</summary>");
        var sources = Sources(g, step);
        var parameters = backend.SourceParameters(sources, names);
        w.Open($"void {step.Name}({string.Join(", ", new[] { "int B" }.Concat(parameters))})");
        foreach (var line in backend.SourceDeclarations(sources, names)) w.Line(line);

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
        var context = new EmitContext(backend, body, g, names);
        foreach (var unit in step.Units)
        {
            body.Line();
            context.Unit = unit;
            switch (unit.Kind)
            {
                case UnitKind.Elementwise:
                    backend.Elementwise(body, g, unit, names);
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
            w.Line($"{backend.BufferType} {names.Name(id)} = {backend.Slice(names.SlotOf(id))}; // {n.Shape} {Names.Comment(Describe(g, n))}");
            if (plan.AuxSlots.ContainsKey(id) && context.AuxUsed.Contains(id))
            {
                var def = OpTable.Get(n.Op);
                w.Line($"{backend.BufferType} {names.Name(id)}_{def.AuxName} = {backend.Slice(plan.AuxSlots[id])}; // {n.Aux} {Names.Comment(string.Format(def.AuxComment, g[n.Inputs[0]].Label))}");
            }
        }
        // Second buffers of nodes the step stores nothing of (a convolution whose unit's one buffer is its fused activation's).
        foreach (int id in context.AuxUsed)
        {
            if (touched.Contains(id) || !plan.AuxSlots.ContainsKey(id)) continue;
            var n = g[id];
            var def = OpTable.Get(n.Op);
            w.Line($"{backend.BufferType} {names.Name(id)}_{def.AuxName} = {backend.Slice(plan.AuxSlots[id])}; // {n.Aux} {Names.Comment(string.Format(def.AuxComment, g[n.Inputs[0]].Label))}");
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

    /// <summary>What op-table kernel emitters may ask while a unit is emitted; the backend renders their calls.</summary>
    sealed class EmitContext : IEmitContext
    {
        readonly IBackend _backend;
        readonly CodeWriter _w;
        readonly Graph _g;
        readonly BufferNames _names;

        public EmitContext(IBackend backend, CodeWriter w, Graph g, BufferNames names)
        {
            _backend = backend;
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

        public string Scalar(int node) => _g[node].Op == "Const" ? Names.Float(_g[node].Value) : _backend.Scalar(_names.Name(node));

        public string Real(double value) => Names.Float(value);

        public Shape ShapeOf(int node) => _g[node].Shape;

        public string Labels => _backend.Labels;

        public (int Bias, string Activation) Epilogue(Node node) =>
            Unit.HasEpilogue && Unit.Nodes[0] == node.Id ? (Unit.Bias, Unit.Activation) : (-1, "None");

        public void Call(string kernel, string arguments, string comment = "") =>
            _w.Line(_backend.Call(Declared(kernel), arguments) + (comment.Length > 0 ? " // " + Names.Comment(comment) : ""));

        public void Result(int node, string kernel, string arguments) => _w.Line(_backend.Result(Buf(node), Declared(kernel), arguments));

        /// <summary>A row may only call the kernels its Calls column lists: the column is what the backends are checked against.</summary>
        string Declared(string kernel)
        {
            var op = _g[Unit.Nodes[0]].Op;
            if (Array.IndexOf(OpTable.Get(op).Calls, kernel) < 0)
                throw new InvalidOperationException($"the row of {op} calls {kernel}, which its Calls column does not list");
            return kernel;
        }
    }
}

/// <summary>Variable names of the values a program stores.</summary>
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

    /// <summary>The arena slot of a stored value (not of the model's input, targets or labels).</summary>
    public Slot SlotOf(int node) => _plan.Slots[node];
}
