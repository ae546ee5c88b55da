using System.Collections.Generic;
using System.Linq;
using System.Threading;
using ModelGen.Generator.Emit;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Model;
using ModelGen.Generator.Passes;

namespace ModelGen.Generator;

/// <summary>
/// Runs the compiler passes over one parsed class, in the order docs/architecture.md describes; <c>gpu</c> asks for the
/// GPU program as well as the CPU one.
/// </summary>
internal static class Compiler
{
    public static string HintName(ClassSpec spec)
    {
        var parts = new List<string>();
        if (spec.Namespace.Length > 0) parts.Add(spec.Namespace);
        parts.AddRange(spec.ContainingTypes.Select(t => t.Substring(t.LastIndexOf(' ') + 1)));
        parts.Add(spec.ClassName);
        return string.Join(".", parts) + ".g.cs";
    }

    public static GeneratedFile Compile(ClassSpec spec, bool gpu, CancellationToken ct)
    {
        var diagnostics = spec.Diagnostics.ToList();
        string hint = HintName(spec);
        // A class the parser could not read (not partial, wrong base, ...) gets no code: adding to it would
        // only add compiler errors on top of the diagnostic that explains the problem.
        if (diagnostics.Any(d => Diagnostics.BlocksEmission(d.Id)) || spec.Root == null && spec.IsModel)
            return new GeneratedFile(hint, "", diagnostics.ToEquatable());
        if (!spec.IsModel)
            return new GeneratedFile(hint, ModuleEmitter.Emit(spec), diagnostics.ToEquatable());
        // An error in the forward body: the class still gets its parameters and API, so that the diagnostic
        // is the one error the user sees.
        if (diagnostics.Count > 0)
            return new GeneratedFile(hint, ModelEmitter.EmitWithoutProgram(spec), diagnostics.ToEquatable());

        // Lower the forward (and loss) body to a graph with static shapes. On a shape error the class still gets
        // its parameters and API, so that the one diagnostic is all the user sees.
        var graph = Lowering.Lower(spec, withLoss: true, training: true, diagnostics);
        ct.ThrowIfCancellationRequested();
        if (graph == null)
            return new GeneratedFile(hint, ModelEmitter.EmitWithoutProgram(spec), diagnostics.ToEquatable());
        Verifier.Check(graph, "lowering");

        // Reverse-mode autodiff appends the backward pass to the same graph.
        if (graph.Loss >= 0)
        {
            Autodiff.Run(graph);
            Verifier.Check(graph, "autodiff");
        }

        // What the program must produce: the forward output, the loss, one gradient per trained parameter, and
        // the updates of running statistics.
        var required = new List<int> { graph.Output };
        if (graph.Loss >= 0) required.Add(graph.Loss);
        required.AddRange(graph.Gradients.Values.Where(v => v >= 0));
        required.AddRange(graph.Effects);
        var units = Fusion.Run(graph, required);
        ct.ThrowIfCancellationRequested();
        var plan = MemoryPlan.Build(graph, units, required);
        var training = new CompiledGraph(graph, units, plan);

        // Ops with an inference variant (Dropout, BatchNorm) give Infer a graph of its own, with the loss on its output
        // for EvaluateStep; otherwise both run the forward half of the training program (EvaluateStep with its loss).
        CompiledGraph? inference = null;
        if (graph.ModeDependent)
        {
            var forward = Lowering.Lower(spec, withLoss: true, training: false, diagnostics)
                ?? throw new System.InvalidOperationException("the inference variant did not lower, but the training variant did");
            Verifier.Check(forward, "lowering (inference)");
            var produced = forward.Loss >= 0 ? new[] { forward.Output, forward.Loss } : new[] { forward.Output };
            var inferenceUnits = Fusion.Run(forward, produced);
            inference = new CompiledGraph(forward, inferenceUnits, MemoryPlan.Build(forward, inferenceUnits, produced));
        }
        return new GeneratedFile(hint, ModelEmitter.Emit(spec, training, inference, gpu), diagnostics.ToEquatable());
    }
}

/// <summary>A graph with its fused units and memory plan: what the emitters turn into methods.</summary>
internal sealed record CompiledGraph(Graph Graph, List<Unit> Units, MemoryPlan Plan);
