using ModelGen.Runtime.Tests.Training;
using Xunit;

namespace ModelGen.Runtime.Tests.Optimizers;

/// <summary>The new optimizers, schedules and clipping drive Fit end to end.</summary>
public class FitWithNewOptimizersTests
{
    public static TheoryData<string> Kinds => new() { "adam", "rmsprop", "rmsprop-centered", "adamw-clipped-warmup" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Fit_learns_the_blobs(string kind)
    {
        Optimizer opt = kind switch
        {
            "adam" => new Adam(0.05f, weightDecay: 1e-4f),
            "rmsprop" => new RMSprop(0.01f, momentum: 0.5f),
            "rmsprop-centered" => new RMSprop(0.01f, centered: true),
            _ => new AdamW(0.05f) { ClipGradientNorm = 1f, Schedule = new LinearWarmup(5, new ExponentialDecay(0.99f)) },
        };
        var model = new LinearModel(4, 3, seed: 2);
        var data = Synthetic.Blobs(300, 1);
        double before = model.Evaluate(data).Loss;
        model.Fit(data, epochs: 3, batchSize: 16, optimizer: opt, verbose: false);
        var e = model.Evaluate(data);
        Assert.True(e.Loss < before / 2, $"{kind}: loss {before} -> {e.Loss}");
        Assert.True(e.Accuracy > 0.9, $"{kind}: accuracy {e.Accuracy}");
        Assert.Equal(3 * 19, opt.StepCount);                      // 300 samples in batches of 16: 19 steps an epoch
        if (opt.ClipGradientNorm != null) Assert.NotNull(opt.LastGradientNorm);
    }
}
