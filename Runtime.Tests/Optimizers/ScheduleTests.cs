using System;
using Xunit;

namespace ModelGen.Runtime.Tests.Optimizers;

/// <summary>Learning-rate schedules: values at given steps, worked out by hand (tolerance 1e-6).</summary>
public class ScheduleTests
{
    [Fact]
    public void CosineDecayFollowsHalfACosine()
    {
        var s = new CosineDecay(totalSteps: 100, minFactor: 0.1f);
        Assert.Equal(1f, s.Factor(0), 6);
        Assert.Equal(0.1f + 0.9f * 0.5f, s.Factor(50), 6);                                   // cos(pi/2) = 0
        Assert.Equal(0.1f + 0.9f * 0.5f * (1 + (float)Math.Cos(Math.PI * 0.25)), s.Factor(25), 6);
        Assert.Equal(0.1f, s.Factor(100), 6);
        Assert.Equal(0.1f, s.Factor(1000), 6);
    }

    [Fact]
    public void WarmupRisesLinearlyThenAnneals()
    {
        var s = new CosineDecay(totalSteps: 110, warmupSteps: 10);
        Assert.Equal(0.1f, s.Factor(0), 6);
        Assert.Equal(1f, s.Factor(9), 6);
        Assert.Equal(1f, s.Factor(10), 6);
        Assert.Equal(0.5f, s.Factor(60), 6);
        Assert.Equal(0f, s.Factor(110), 6);
    }

    [Fact]
    public void StepsForCountsThePartialBatch() => Assert.Equal(938 * 5, CosineDecay.StepsFor(60000, 64, 5));

    [Fact]
    public void OptimizerStepUsesTheScheduledRate()
    {
        var store = new ParameterStore(new[] { new ParameterInfo("w", new[] { 3 }, 0, Init.Zeros) }, seed: 0);
        store.Gradients.Fill(1f);
        var sgd = new Sgd(0.5f) { Schedule = new CosineDecay(totalSteps: 2) };
        Assert.Equal(0.5f, sgd.CurrentLearningRate, 6);
        sgd.Step(store);                                     // factor 1: w = -0.5
        Assert.Equal(0.25f, sgd.CurrentLearningRate, 6);     // factor 0.5 at step 1
        sgd.Step(store);                                     // w = -0.75
        Assert.Equal(-0.75f, store.Values[0], 6);
        Assert.Equal(0f, sgd.CurrentLearningRate, 6);
    }

    [Fact]
    public void InvalidSchedulesAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(10, minFactor: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(10, warmupSteps: 10));
    }
}
