using System;
using System.Linq;
using System.Threading;
using FashionMnistSample;
using Xunit;

namespace ModelGen.Gpu.Tests.Training;

/// <summary>
/// Predict and Evaluate on one model on the GPU device from several threads: each call rents a GPU program of its own
/// (device arena, batch buffers, staging), the kernels of all of them queue on the device's one stream, and every
/// result equals, bit for bit, the single-threaded one (the same kernels on the same inputs).
/// </summary>
public sealed class ConcurrentInferenceTests
{
    [Fact]
    public void PredictAndEvaluateFromFourThreadsMatchSingleThreadedResults()
    {
        var model = new FashionMlp(seed: 61);
        model.To(GpuTestDevice.Device);
        try
        {
            var data = TrainingData.FashionFlat.Slice(0, 24);
            var images = Enumerable.Range(0, 12).Select(i => new Tensor(data.Sample(i), 784)).ToArray();
            var reference = images.Select(x => model.Predict(x).ToArray()).ToArray();
            var evaluation = model.Evaluate(data, batchSize: 8);
            var failures = new string?[4];
            var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            {
                for (int c = 0; c < 24 && failures[t] == null; c++)
                {
                    int i = (c * 5 + t * 3) % images.Length;
                    if (!model.Predict(images[i]).ToArray().AsSpan().SequenceEqual(reference[i]))
                        failures[t] = $"thread {t} call {c}: Predict of image {i} differs from the single-threaded result";
                    if (c % 8 == 7 && model.Evaluate(data, batchSize: 8) is var e && (e.Loss != evaluation.Loss || e.Accuracy != evaluation.Accuracy))
                        failures[t] = $"thread {t} call {c}: Evaluate gave loss {e.Loss}, accuracy {e.Accuracy}; single-threaded {evaluation.Loss}, {evaluation.Accuracy}";
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Assert.All(failures, f => Assert.Null(f));
        }
        finally
        {
            model.To(Device.Cpu);
        }
    }
}
