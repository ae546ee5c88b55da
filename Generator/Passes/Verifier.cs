using System;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Ops;

namespace ModelGen.Generator.Passes;

/// <summary>
/// Checks the graph's invariants between passes: nodes in topological order, each op known with its arity,
/// and each node's shape equal to what its op's shape rule infers from its inputs. A violation is a compiler
/// bug, reported (by the caller) as MG0011 naming the pass that broke it.
/// </summary>
internal static class Verifier
{
    public static void Check(Graph g, string afterPass)
    {
        foreach (var n in g.Nodes)
        {
            if (!OpTable.TryGet(n.Op, out var def)) Fail(afterPass, n, "unknown op");
            if (n.Inputs.Length != def.Arity) Fail(afterPass, n, $"{n.Inputs.Length} inputs, the op takes {def.Arity}");
            if (n.Inputs.Any(i => i < 0 || i >= n.Id)) Fail(afterPass, n, "an input is not an earlier node");
            if (def.Kind == OpKind.Source) continue;
            var inferred = def.Shape(n, n.Inputs.Select(i => g[i].Shape).ToArray(), out var error);
            if (inferred == null || !inferred.Equals(n.Shape)) Fail(afterPass, n, $"shape {n.Shape}, but its rule gives {inferred?.ToString() ?? error}");
        }
        foreach (int id in new[] { g.Input, g.Output, g.Loss })
            if (id >= g.Nodes.Count) throw new InvalidOperationException($"after {afterPass}: a graph output refers to a missing node");
    }

    static void Fail(string pass, Node n, string problem) => throw new InvalidOperationException($"after {pass}: node {n} has {problem}");
}
