using System;
using System.Linq;
using System.Threading;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>
/// Predict and Evaluate on one shared model from many threads give, call by call, exactly what they give on one
/// thread: each call runs on a program (activation arena) of its own, rented from the model's pool. The reference is
/// computed single-threaded first; every concurrent result is compared with it bit for bit (the same program code on
/// the same input, so the same float operations in the same order).
/// </summary>
public class ConcurrentInferenceTests
{
    static readonly Lazy<(FashionMlpUnderTest Model, Dataset Test)> Trained = new(() =>
    {
        var data = FashionMnist.Load();
        var (mean, std) = data.Train.FeatureStatistics();
        data.Train.Standardize(mean, std);
        data.Test.Standardize(mean, std);
        var model = new FashionMlpUnderTest(seed: 4);
        model.Fit(data.Train.Take(6000), epochs: 1, batchSize: 64, seed: 4, verbose: false);
        return (model, data.Test.Take(2000));
    });

    [Fact]
    public void Predict_from_eight_threads_matches_single_threaded_results_call_by_call()
    {
        var (model, test) = Trained.Value;
        const int Images = 500, Threads = 8, CallsPerThread = 2500;
        var reference = new float[Images][];
        for (int i = 0; i < Images; i++) reference[i] = model.Predict(new Tensor(test.Sample(i), 784)).ToArray();
        // Batches of 5 too (another program size, and a batched GEMM), compared with the single-image results' rows.
        var batchReference = new float[Images / 5][];
        for (int b = 0; b < Images / 5; b++) batchReference[b] = model.Predict(new Tensor(test.Features.AsSpan(b * 5 * 784, 5 * 784), 5, 784)).ToArray();

        int differing = 0, otherClass = 0, calls = 0;
        string? first = null;
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int c = 0; c < CallsPerThread; c++)
            {
                // Each thread walks the images in its own order, so that neighbours run different inputs at once.
                int i = (c * 7 + t * 61) % Images;
                float[] expected, got;
                if (c % 10 == 9)
                {
                    int b = i / 5;
                    expected = batchReference[b];
                    got = model.Predict(new Tensor(test.Features.AsSpan(b * 5 * 784, 5 * 784), 5, 784)).ToArray();
                }
                else
                {
                    expected = reference[i];
                    got = model.Predict(new Tensor(test.Sample(i), 784)).ToArray();
                }
                Interlocked.Increment(ref calls);
                if (expected.AsSpan().SequenceEqual(got)) continue;
                Interlocked.Increment(ref differing);
                if (ModelBase.ArgMax(expected.AsSpan(0, 10)) != ModelBase.ArgMax(got.AsSpan(0, 10))) Interlocked.Increment(ref otherClass);
                Interlocked.CompareExchange(ref first, $"thread {t} call {c} image {i}: expected [{string.Join(", ", expected.Take(4))}, ...], got [{string.Join(", ", got.Take(4))}, ...]", null);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(Threads * CallsPerThread, calls);
        Assert.True(differing == 0, $"{differing} of {calls} concurrent Predict results differ from the single-threaded ones ({otherClass} in their class); first: {first}");
    }

    [Fact]
    public void Evaluate_from_four_threads_matches_single_threaded_evaluation()
    {
        var (model, test) = Trained.Value;
        var parts = Enumerable.Range(0, 4).Select(p => test.Slice(p * 500, 500)).ToArray();
        var expected = parts.Select(p => model.Evaluate(p, batchSize: 64)).ToArray();
        var failures = new string?[4];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (int r = 0; r < 6; r++)
            {
                // Every thread evaluates every part, interleaved with Predict on the same model.
                int p = (t + r) % 4;
                var e = model.Evaluate(parts[p], batchSize: 64);
                model.Predict(new Tensor(parts[p].Sample(r), 784));
                if (e.Loss != expected[p].Loss || e.Accuracy != expected[p].Accuracy || !e.ConfusionMatrix!.Cast<int>().SequenceEqual(expected[p].ConfusionMatrix!.Cast<int>()))
                    failures[t] ??= $"thread {t} part {p}: loss {e.Loss} accuracy {e.Accuracy}, single-threaded {expected[p].Loss} {expected[p].Accuracy}";
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(failures, f => Assert.Null(f));
    }

    /// <summary>A model with an inference graph of its own (BatchNorm with running statistics, Dropout as the identity).</summary>
    [Fact]
    public void Predict_of_a_model_with_an_inference_graph_is_safe_from_many_threads()
    {
        var model = new NormClassifierModel(seed: 3);
        var rng = new Random(5);
        var x = new float[64 * 8];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 4 - 2);
        var labels = Enumerable.Range(0, 64).Select(i => i % 3).ToArray();
        model.Fit(new Dataset(x, new[] { 8 }, labels, 3), epochs: 2, batchSize: 16, verbose: false);
        var reference = Enumerable.Range(0, 64).Select(i => model.Predict(new Tensor(x.AsSpan(i * 8, 8), 8)).ToArray()).ToArray();
        int differing = 0;
        var threads = Enumerable.Range(0, 6).Select(t => new Thread(() =>
        {
            for (int c = 0; c < 3000; c++)
            {
                int i = (c * 5 + t * 11) % 64;
                if (!model.Predict(new Tensor(x.AsSpan(i * 8, 8), 8)).ToArray().AsSpan().SequenceEqual(reference[i])) Interlocked.Increment(ref differing);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(0, differing);
    }
}
