using System;
using System.Collections.Generic;

namespace ModelGen;

/// <summary>
/// The backward rule of one recorded op: given the gradient of its output, write (overwrite) the gradient of
/// each input into <paramref name="inputGradients"/>[i], which is null for inputs that need no gradient.
/// </summary>
internal delegate void BackwardRule(float[] outputGradient, float[]?[] inputGradients);

/// <summary>A tape entry: the op that produced a tensor, its inputs, and its backward rule.</summary>
internal sealed class TapeNode
{
    public TapeNode(string op, Tensor[] inputs, BackwardRule rule)
    {
        Op = op;
        Inputs = inputs;
        Rule = rule;
    }

    /// <summary>The op name (for debugging).</summary>
    public string Op { get; }

    /// <summary>The inputs, in the order the rule expects.</summary>
    public Tensor[] Inputs { get; }

    /// <summary>The vector-Jacobian product.</summary>
    public BackwardRule Rule { get; }
}

public sealed partial class Tensor
{
    [ThreadStatic] static int t_noGradDepth;

    TapeNode? _node;

    /// <summary>
    /// The accumulated gradient of this leaf, or null before the first <see cref="Backward"/> reaches it.
    /// For a model parameter's value it is the view into the gradient arena.
    /// </summary>
    public Tensor? Grad { get; internal set; }

    /// <summary>
    /// Whether ops on this tensor are recorded so that <see cref="Backward"/> reaches it. Set it on leaves you
    /// want gradients for; results of recorded ops have it set.
    /// </summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Whether this tensor was produced by a recorded op (it is not a leaf).</summary>
    public bool IsLeaf => _node is null;

    /// <summary>Whether ops record the tape on this thread (false inside a <see cref="NoGrad"/> scope).</summary>
    public static bool IsGradEnabled => t_noGradDepth == 0;

    /// <summary>Turns tape recording off on this thread until the returned scope is disposed (scopes nest).</summary>
    public static IDisposable NoGrad()
    {
        t_noGradDepth++;
        return new NoGradScope();
    }

    sealed class NoGradScope : IDisposable
    {
        bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            t_noGradDepth--;
        }
    }

    /// <summary>
    /// Makes <paramref name="result"/> the output of a recorded op when grad mode is on and any input requires a
    /// gradient; otherwise returns it untouched.
    /// </summary>
    internal static Tensor Record(Tensor result, string op, Tensor[] inputs, BackwardRule rule)
    {
        if (!IsGradEnabled) return result;
        bool any = false;
        foreach (var input in inputs) any |= input.RequiresGrad;
        if (!any) return result;
        result.RequiresGrad = true;
        result._node = new TapeNode(op, inputs, rule);
        return result;
    }

    /// <summary>
    /// Back-propagates from this scalar (rank 0, or one element) through the recorded tape in reverse
    /// topological order, and adds d(this)/d(leaf) into <see cref="Grad"/> of every leaf that requires a
    /// gradient (creating a zero <see cref="Grad"/> for leaves without one). Intermediate gradients are not kept.
    /// </summary>
    public void Backward()
    {
        if (Length != 1)
            throw new InvalidOperationException($"Backward starts from a scalar, but this tensor has shape {FormatShape(_shape)}.");
        if (!RequiresGrad)
            throw new InvalidOperationException("Backward: this tensor does not require a gradient, so nothing was recorded for it (set RequiresGrad on the inputs, outside a NoGrad scope).");

        // Post-order depth-first walk: every tensor comes after all the tensors it was computed from.
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Tensor, int Next)>();
        visited.Add(this);
        stack.Push((this, 0));
        while (stack.Count > 0)
        {
            var (tensor, next) = stack.Pop();
            var inputs = tensor._node?.Inputs ?? Array.Empty<Tensor>();
            if (next < inputs.Length)
            {
                stack.Push((tensor, next + 1));
                var input = inputs[next];
                if (input.RequiresGrad && visited.Add(input)) stack.Push((input, 0));
            }
            else order.Add(tensor);
        }

        var gradients = new Dictionary<Tensor, float[]>(ReferenceEqualityComparer.Instance) { [this] = new[] { 1f } };
        for (int t = order.Count - 1; t >= 0; t--)
        {
            var tensor = order[t];
            if (!gradients.Remove(tensor, out var gradient)) continue;
            if (tensor._node is null)
            {
                tensor.AccumulateGrad(gradient);
                continue;
            }
            var inputs = tensor._node.Inputs;
            var inputGradients = new float[]?[inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
                if (inputs[i].RequiresGrad) inputGradients[i] = new float[inputs[i].Length];
            tensor._node.Rule(gradient, inputGradients);
            for (int i = 0; i < inputs.Length; i++)
            {
                var g = inputGradients[i];
                if (g is null) continue;
                if (gradients.TryGetValue(inputs[i], out var sum))
                    for (int j = 0; j < sum.Length; j++) sum[j] += g[j];
                else gradients[inputs[i]] = g;
            }
        }
    }

    void AccumulateGrad(float[] gradient)
    {
        Grad ??= new Tensor(_shape);
        var grad = Grad.Data;
        for (int i = 0; i < grad.Length; i++) grad[i] += gradient[i];
    }

    /// <summary>Sets <see cref="Grad"/> to zero (when there is one).</summary>
    public void ZeroGrad() => Grad?.Data.Clear();

    /// <summary>A view of the same storage that is not recorded and does not require a gradient.</summary>
    public Tensor Detach() => new(_storage, _offset, (int[])_shape.Clone());
}
