using System;
using ModelGen;

namespace ModelGen.Runtime.Tests.Training;

/// <summary>
/// A hand-written stand-in for generated code: a linear model (logits = x·W + b) whose program does softmax
/// cross-entropy (labels) or mean squared error (tensor targets) and writes exact gradients. It counts steps.
/// </summary>
sealed class LinearModel : ModelBase
{
    public LinearModel(int inputs, int outputs, int seed = 0, TargetKind target = TargetKind.Labels)
        : base(Describe(inputs, outputs, target), seed) { }

    static ModelDescription Describe(int inputs, int outputs, TargetKind target) => new(
        "LinearModel",
        new[]
        {
            new ParameterInfo("linear.weight", new[] { inputs, outputs }, 0, Init.XavierUniform),
            new ParameterInfo("linear.bias", new[] { outputs }, (inputs * outputs + 15) / 16 * 16, Init.Zeros),
        },
        new[] { inputs }, new[] { outputs }, target);

    public int TrainSteps;
    public readonly int[] BatchSizes = new int[1024];
    public int ProgramsCreated;
    public int LastMaxBatch;

    /// <summary>Called at the start of every Infer and EvaluateStep (tests hold a call there to overlap it with another).</summary>
    public Action? DuringInference;

    public override CompiledProgram CreateProgram(int maxBatch)
    {
        ProgramsCreated++;
        LastMaxBatch = maxBatch;
        return new Program(this, maxBatch);
    }

    sealed class Program : CpuProgram
    {
        readonly LinearModel _model;
        readonly int _in, _out;

        public Program(LinearModel model, int maxBatch)
            : base(model.Parameters, maxBatch, (model.Description.OutputShape[0] + 15) / 16 * 16, 0)
        {
            _model = model;
            _in = model.Description.InputShape[0];
            _out = model.Description.OutputShape[0];
        }

        public override void Infer(ReadOnlySpan<float> input, int batch, Span<float> output)
        {
            CheckBatch(batch, input.Length, _in);
            _model.DuringInference?.Invoke();
            Forward(input, batch, output);
        }

        public override float EvaluateStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output)
        {
            Infer(input, batch, output);
            return LossAndGradient(output, labels, targets, batch);
        }

        void Forward(ReadOnlySpan<float> input, int batch, Span<float> output)
        {
            var w = Parameters[0].Value.Data;
            var b = Parameters[1].Value.Data;
            for (int r = 0; r < batch; r++)
                for (int c = 0; c < _out; c++)
                {
                    float s = b[c];
                    for (int k = 0; k < _in; k++) s += input[r * _in + k] * w[k * _out + c];
                    output[r * _out + c] = s;
                }
        }

        public override float TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output)
        {
            CheckBatch(batch, input.Length, _in);
            Forward(input, batch, output);
            if (_model.TrainSteps < _model.BatchSizes.Length) _model.BatchSizes[_model.TrainSteps] = batch;
            _model.TrainSteps++;
            float loss = LossAndGradient(output, labels, targets, batch);
            Span<float> d = Activations.Slice(0, batch * _out);
            Parameters.ZeroGradients();
            var gw = Parameters[0].Gradient.Data;
            var gb = Parameters[1].Gradient.Data;
            for (int r = 0; r < batch; r++)
                for (int c = 0; c < _out; c++)
                {
                    float g = d[r * _out + c];
                    gb[c] += g;
                    for (int k = 0; k < _in; k++) gw[k * _out + c] += input[r * _in + k] * g;
                }
            return loss;
        }

        /// <summary>The mean loss of the outputs; leaves dLoss/dLogits in the activation arena.</summary>
        float LossAndGradient(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch)
        {
            Span<float> d = Activations.Slice(0, batch * _out);   // dLoss/dLogits
            double loss = 0;
            if (_model.Description.Target == TargetKind.Labels)
            {
                for (int r = 0; r < batch; r++)
                {
                    var row = output.Slice(r * _out, _out);
                    float max = row[0];
                    for (int c = 1; c < _out; c++) max = Math.Max(max, row[c]);
                    double sum = 0;
                    for (int c = 0; c < _out; c++) sum += Math.Exp(row[c] - max);
                    loss += Math.Log(sum) + max - row[labels[r]];
                    for (int c = 0; c < _out; c++)
                        d[r * _out + c] = (float)((Math.Exp(row[c] - max) / sum - (c == labels[r] ? 1 : 0)) / batch);
                }
                loss /= batch;
            }
            else
            {
                int n = batch * _out;
                for (int i = 0; i < n; i++)
                {
                    float e = output[i] - targets[i];
                    loss += (double)e * e;
                    d[i] = 2 * e / n;
                }
                loss /= n;
            }
            return (float)loss;
        }
    }
}

static class Synthetic
{
    /// <summary>Three well separated Gaussian blobs in 4-D.</summary>
    public static Dataset Blobs(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count * 4];
        var y = new int[count];
        for (int i = 0; i < count; i++)
        {
            int c = rng.Next(3);
            y[i] = c;
            for (int k = 0; k < 4; k++)
                x[i * 4 + k] = (k == c ? 3f : 0f) + (float)(rng.NextDouble() * 2 - 1);
        }
        return new Dataset(x, new[] { 4 }, y, 3);
    }

    /// <summary>y = A·x + b plus a little noise, 3 inputs -> 2 outputs.</summary>
    public static Dataset Regression(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count * 3];
        var t = new float[count * 2];
        for (int i = 0; i < count; i++)
        {
            for (int k = 0; k < 3; k++) x[i * 3 + k] = (float)(rng.NextDouble() * 2 - 1);
            t[i * 2] = 0.5f * x[i * 3] - 1.5f * x[i * 3 + 1] + 0.2f;
            t[i * 2 + 1] = x[i * 3 + 2] + 0.3f * x[i * 3] - 0.4f + (float)(rng.NextDouble() - 0.5) * 0.01f;
        }
        return new Dataset(x, new[] { 3 }, t, new[] { 2 });
    }
}
