from django.views.generic import TemplateView

from trials.choices import TherapyClass
from trials.models import Trial
from trials.services import knowledge_base_counts


class HomeView(TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["counts"] = knowledge_base_counts()
        context["therapy_class_counts"] = [
            (therapy_class.label, Trial.objects.with_therapy_class(therapy_class).count())
            for therapy_class in TherapyClass
        ]
        return context
