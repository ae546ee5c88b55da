using System;
using ModelGen.Runtime.Tests.Training;
using Xunit;

namespace ModelGen.Runtime.Tests.Data;

public class DatasetTests
{
    [Fact]
    public void ChangingTheCallersLabelsAfterConstructionChangesNothing()
    {
        var features = new float[] { 1, 0, 0, 1, 1, 1 };
        var labels = new[] { 0, 1, 1 };
        var set = new Dataset(features, new[] { 2 }, labels, classCount: 2);
        labels[1] = 99;   // outside 0..1: would index past the confusion matrix
        labels[2] = 0;
        Assert.Equal(new[] { 0, 1, 1 }, set.Labels);

        var model = new LinearModel(2, 2, seed: 1);
        var evaluation = model.Evaluate(set);
        Assert.Equal(3, evaluation.Count);
        var expected = model.Evaluate(new Dataset(features, new[] { 2 }, new[] { 0, 1, 1 }, classCount: 2));
        Assert.Equal(expected.Loss, evaluation.Loss);
        Assert.Equal(expected.Accuracy, evaluation.Accuracy);
    }
}
