using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Ops;

namespace ModelGen.Generator.Passes;

/// <summary>
/// Reverse-mode differentiation: walks the forward graph from the loss backwards and applies each op's
/// backward rule from the op table, adding the gradient computation to the same graph. Contributions to a
/// value used more than once are summed. Afterwards <see cref="Graph.Gradients"/> maps each parameter to the
/// node holding its gradient (a node of its own, so it can live in the gradient arena).
/// </summary>
internal static class Autodiff
{
    public static void Run(Graph g)
    {
        if (g.Loss < 0) throw new InvalidOperationException("autodiff needs a loss");
        int forwardCount = g.Nodes.Count;
        var requires = new bool[forwardCount];
        foreach (var n in g.Nodes)
            requires[n.Id] = n.Op == "Parameter" && n.Trainable || n.Inputs.Any(i => requires[i]);

        var b = new GraphBuilder(g) { Backward = true };
        var contributions = new Dictionary<int, List<int>>();
        b.Label = "d loss";
        contributions[g.Loss] = new List<int> { b.Const(1) };

        for (int id = g.Loss; id >= 0; id--)
        {
            if (!requires[id] || !contributions.TryGetValue(id, out var parts)) continue;
            var node = g[id];
            b.Scope = node.Scope;
            b.Label = "grad of " + node.Label;
            int dy = parts[0];
            for (int i = 1; i < parts.Count; i++) dy = b.Op("Add", new[] { dy, parts[i] });
            if (node.Op == "Parameter")
            {
                g.Gradients[node.Name!] = dy;
                continue;
            }
            var rule = OpTable.Get(node.Op).Backward ?? throw new InvalidOperationException($"{node.Op} has no backward rule");
            int before = g.Nodes.Count;
            b.Label = "backward of " + node.Label;
            var inputGrads = rule(b, node, dy);
            for (int i = 0; i < node.Inputs.Length; i++)
            {
                int input = node.Inputs[i];
                if (i >= inputGrads.Length || inputGrads[i] < 0 || !requires[input]) continue;
                // The node a rule returns holds the gradient of that input: name it after the input, not after this node.
                if (inputGrads[i] >= before) g[inputGrads[i]].Label = "grad of " + (g[input].Op == "Parameter" ? g[input].Name : g[input].Label);
                if (!contributions.TryGetValue(input, out var list)) contributions[input] = list = new List<int>();
                list.Add(inputGrads[i]);
            }
        }

        // Every gradient gets a node of its own: it is written straight into the gradient arena.
        var consumers = new int[g.Nodes.Count];
        foreach (var n in g.Nodes) foreach (int i in n.Inputs) consumers[i]++;
        var owned = new HashSet<int>();
        foreach (var (name, node) in g.Parameters)
        {
            if (!g[node].Trainable) continue;
            if (!g.Gradients.TryGetValue(name, out int grad))
            {
                g.Gradients[name] = -1;
                continue;
            }
            var gn = g[grad];
            if (OpTable.Get(gn.Op).Kind == OpKind.Source || consumers[grad] > 0 || !owned.Add(grad) || grad == g.Output || grad == g.Loss)
            {
                b.Scope = gn.Scope;
                b.Label = "gradient of " + name;
                g.Gradients[name] = b.Op("Copy", new[] { grad });
            }
        }
    }
}
