using System;
using System.Linq;
using ModelGen.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>
/// A test model with its eager forward and loss (the user's own methods, called directly). <paramref name="Sizes"/>
/// are the batch sizes to test (default 1, 7, 16); <paramref name="Ids"/> &gt; 0 makes the inputs token ids in
/// [0, Ids) (for Embedding) instead of uniform values in [-1, 1].
/// </summary>
public sealed record OracleCase(string Name, Func<ModelBase> Create, Func<ModelBase, Tensor, Tensor> Forward,
    Func<ModelBase, Tensor, Tensor, Labels, Tensor> Loss, int[]? Sizes = null, int Ids = 0);

/// <summary>
/// The generated code against the oracle. For one model: the compiled TrainStep (forward, loss, backward) agrees
/// with the eager path in training mode (the user's methods op by op with reference kernels, then Backward) on the
/// loss, the outputs, every parameter gradient and every state update (running statistics); the compiled Infer
/// agrees with the eager path in evaluation mode, and so does EvaluateStep (Infer's outputs and the user's [Loss] on
/// them); and every SIMD path gives the same step. Batches smaller than
/// the program's capacity are included.
/// Tolerance (float32 against float32, different summation orders): |compiled - eager| ≤ 2e-4 · (max|eager| + 1e-3)
/// per tensor, i.e. relative to the tensor's scale.
/// </summary>
public static class CompiledOracle
{
    const float Tolerance = 2e-4f;

    static readonly int[] DefaultSizes = { 1, 7, 16 };

    sealed record Run(float Loss, float[] Output, float[] Gradients, float[] Inferred, float[] ValuesAfter, float EvaluationLoss, float[] Evaluated);

    sealed record Batch(float[] Input, int[] Labels, float[] Targets, int Size);

    static Batch MakeBatch(ModelDescription d, int size, int seed, int ids)
    {
        var rng = new Random(seed);
        int inLength = d.InputShape.Aggregate(1, (a, b) => a * b), outLength = d.OutputShape.Aggregate(1, (a, b) => a * b);
        var input = new float[size * inLength];
        for (int i = 0; i < input.Length; i++) input[i] = ids > 0 ? rng.Next(ids) : (float)(rng.NextDouble() * 2 - 1);
        var labels = d.Target == TargetKind.Labels ? Enumerable.Range(0, size).Select(_ => rng.Next(outLength)).ToArray() : Array.Empty<int>();
        var targets = new float[d.Target == TargetKind.Tensor ? size * outLength : 0];
        for (int i = 0; i < targets.Length; i++) targets[i] = (float)(rng.NextDouble() * 2 - 1);
        return new Batch(input, labels, targets, size);
    }

    static Run Compiled(ModelBase model, Batch b, int capacity, Device? device = null)
    {
        int outLength = model.Description.OutputShape.Aggregate(1, (a, c) => a * c);
        if (device != null) model.To(device);
        var program = model.NewProgram(capacity);
        var output = new float[b.Size * outLength];
        var (input, labels, targets) = (b.Input.ToArray(), b.Labels.ToArray(), b.Targets.ToArray());
        float loss = program.TrainStep(b.Input, b.Labels, b.Targets, b.Size, output);
        model.SyncFromDevice();
        var gradients = model.Parameters.Gradients.ToArray();
        var inferred = new float[b.Size * outLength];
        program.Infer(b.Input, b.Size, inferred);
        var evaluated = new float[b.Size * outLength];
        float evaluationLoss = program.EvaluateStep(b.Input, b.Labels, b.Targets, b.Size, evaluated);
        model.SyncFromDevice();
        // The generated code reads the caller's input, labels and targets in place: it must leave them as they were.
        Assert.Equal(input, b.Input);
        Assert.Equal(labels, b.Labels);
        Assert.Equal(targets, b.Targets);
        return new Run(loss, output, gradients, inferred, model.Parameters.Values.ToArray(), evaluationLoss, evaluated);
    }

    static Run Eager(OracleCase c, ModelBase model, Batch b)
    {
        model.Parameters.ZeroGradients();
        var x = new Tensor(b.Input, new[] { b.Size }.Concat(model.Description.InputShape).ToArray());
        model.Train();
        var y = c.Forward(model, x);
        var target = new Tensor(b.Targets.Length > 0 ? b.Targets : new float[y.Length], y.GetShape());
        var loss = c.Loss(model, y, target, new Labels(b.Labels));
        loss.Backward();
        var values = model.Parameters.Values.ToArray();
        model.Eval();
        float[] inferred;
        float evaluationLoss;
        using (Tensor.NoGrad())
        {
            var inference = c.Forward(model, x);
            inferred = inference.ToArray();
            evaluationLoss = c.Loss(model, inference, target, new Labels(b.Labels)).Item();
        }
        model.Train();
        return new Run(loss.Item(), y.ToArray(), model.Parameters.Gradients.ToArray(), inferred, values, evaluationLoss, inferred);
    }

    static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = expected.Select(Math.Abs).DefaultIfEmpty(0).Max() + 1e-3f;
        for (int i = 0; i < expected.Length; i++)
        {
            float diff = Math.Abs(expected[i] - actual[i]);
            if (!(diff <= Tolerance * scale))
                Assert.Fail($"{what}[{i}]: expected {expected[i]}, got {actual[i]} (|diff| {diff} > {Tolerance} x scale {scale})");
        }
    }

    /// <summary>Compiled TrainStep and Infer (on <paramref name="device"/>, the CPU by default) against eager training and evaluation, at each batch size.</summary>
    public static void TrainStepAndInferMatchEager(OracleCase c, Device? device = null)
    {
        foreach (int size in c.Sizes ?? DefaultSizes)
        {
            var model = c.Create();
            var before = model.Parameters.Values.ToArray();
            var batch = MakeBatch(model.Description, size, seed: size, c.Ids);
            var compiled = Compiled(model, batch, capacity: 16, device);
            before.CopyTo(model.Parameters.Values); // the eager step starts from the same parameters and running statistics
            var eager = Eager(c, model, batch);
            AssertClose(new[] { eager.Loss }, new[] { compiled.Loss }, $"{c.Name} batch {size} loss");
            AssertClose(eager.Output, compiled.Output, $"{c.Name} batch {size} output");
            AssertClose(eager.Inferred, compiled.Inferred, $"{c.Name} batch {size} Infer output");
            AssertClose(eager.Inferred, compiled.Evaluated, $"{c.Name} batch {size} EvaluateStep output");
            AssertClose(new[] { eager.EvaluationLoss }, new[] { compiled.EvaluationLoss }, $"{c.Name} batch {size} EvaluateStep loss");
            foreach (var p in model.Parameters)
            {
                if (p.Info.Trainable)
                {
                    var e = eager.Gradients.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                    var k = compiled.Gradients.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                    Assert.Contains(e, v => v != 0); // every parameter takes part in the test models
                    AssertClose(e, k, $"{c.Name} batch {size} gradient of {p.Name}");
                }
                else
                {
                    var e = eager.ValuesAfter.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                    var k = compiled.ValuesAfter.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                    Assert.NotEqual(before.AsSpan(p.Info.Offset, p.Info.Length).ToArray(), k); // the step updated the state
                    AssertClose(e, k, $"{c.Name} batch {size} state {p.Name}");
                }
            }
        }
    }

    /// <summary>The scalar, AVX2 and AVX-512 paths give the same step and inference (callers join the CPU-settings collection).</summary>
    public static void EverySimdPathGivesTheSameStep(OracleCase c)
    {
        var batch = MakeBatch(c.Create().Description, 13, seed: 99, c.Ids);
        Run? reference = null;
        foreach (var level in new[] { SimdLevel.Scalar, SimdLevel.Avx2, SimdLevel.Avx512 })
        {
            if (level > CpuFeatures.Level) continue; // this CPU cannot run the path (the CI machine has AVX-512)
            using var forced = CpuFeatures.Force(level);
            var run = Compiled(c.Create(), batch, capacity: 13);
            if (reference == null) { reference = run; continue; }
            AssertClose(reference.Output, run.Output, $"{c.Name} {level} output");
            AssertClose(reference.Inferred, run.Inferred, $"{c.Name} {level} Infer output");
            AssertClose(new[] { reference.EvaluationLoss }, new[] { run.EvaluationLoss }, $"{c.Name} {level} EvaluateStep loss");
            AssertClose(reference.Gradients, run.Gradients, $"{c.Name} {level} gradients");
            AssertClose(reference.ValuesAfter, run.ValuesAfter, $"{c.Name} {level} parameters and state");
            AssertClose(new[] { reference.Loss }, new[] { run.Loss }, $"{c.Name} {level} loss");
        }
        Assert.NotNull(reference);
    }
}
